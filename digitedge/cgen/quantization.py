"""TFLite Micro's parameter arithmetic (multipliers, shifts, clamps, padding), computed as TFLM does.

Every value here is what TFLM's Prepare step derives from the flatbuffer at run time; the generated
C carries the results as constants. Precision follows TFLM exactly: scales are float32 in the
flatbuffer, widened to double where TFLM widens them, multiplied in float32 where TFLM does
(tensorflow/lite/kernels/kernel_util.cc, quantization_util.cc, micro/kernels/*_common.cc).
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127

# tflite::FusedActivationFunctionType as stored in the flatbuffer
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
SAME, VALID = 0, 1  # tflite::Padding


def tflite_round(value: float) -> int:
    """TfLiteRound / std::round: halves go away from zero (Python's round() goes to even)."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    rounded = whole + (1 if magnitude - whole >= 0.5 else 0)  # exact: no x + 0.5 double rounding
    return -rounded if value < 0 else rounded


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier (double-rounding build): (Q31 significand, power-of-two exponent)."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    fixed = tflite_round(fraction * (1 << 31))
    if fixed > (1 << 31):
        raise ValueError(f"QuantizeMultiplier overflow for {real_multiplier}")
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:  # TFLM flushes multipliers below ~2^-31 to zero
        return 0, 0
    return fixed, shift


def conv_multipliers(input_scale: float, filter_scales: tuple[float, ...], output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams (also per-channel FULLY_CONNECTED): double products."""
    scales = filter_scales if len(filter_scales) > 1 else filter_scales * channels
    pairs = [quantize_multiplier(float(input_scale) * float(scale) / float(output_scale)) for scale in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def fully_connected_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler for per-tensor FULLY_CONNECTED: the scale product is float32."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(output_scale))


def activation_range(activation: int, output_scale: float, output_zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: the fused clamp, quantized in float32."""
    def quantize(value: float) -> int:
        return output_zero_point + tflite_round(float(np.float32(value) / np.float32(output_scale)))

    name = ACTIVATIONS.get(activation)
    if name == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if name == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if name == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    return INT8_MIN, INT8_MAX


def softmax_parameters(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius with 5 integer bits: (multiplier, left shift, diff_min)."""
    scaled_diff_integer_bits = 5
    real = min(float(beta) * float(input_scale) * (1 << (31 - scaled_diff_integer_bits)), (1 << 31) - 1.0)
    if not real > 1.0:
        raise ValueError("softmax input scale too small for TFLite's int8 softmax")
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(1.0 * ((1 << scaled_diff_integer_bits) - 1)
                        * (1 << (31 - scaled_diff_integer_bits)) / (1 << left_shift))
    return multiplier, left_shift, -radius


def out_size(padding: int, image: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """ComputeOutSize: the spatial output size TFLM derives (it must match the output tensor)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == SAME:
        return (image + stride - 1) // stride
    return (image + stride - effective) // stride


def padding_before(stride: int, dilation: int, image: int, filter_size: int, output: int) -> int:
    """ComputePaddingWithOffset's leading padding (TFLM's reference kernels ignore the odd offset)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((output - 1) * stride + effective - image, 0)
    return total // 2
