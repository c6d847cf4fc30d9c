"""The mobile models: the run's trained model behind an RGB input, converted as a phone client wants it.

MediaPipe's ImageClassifier (and the Android/iOS samples built on it) only takes 1 x H x W x 3
images, uint8 or float32. The wrapper averages R, G and B with a fixed 1x1 convolution (weights
1/3): a gray image (R = G = B) reaches the trained model unchanged, and in int8 the three equal
weights quantize exactly, so mobile_uint8 answers as int8_qat does.
  mobile_uint8    <- the QAT model; full-integer, uint8 in (scale 1/255, zero point 0) and uint8 out
  mobile_float16  <- the float model; float32 in/out, float16 weights (for the GPU delegate)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from digitedge.errors import DigitedgeError
from digitedge.mobile.signature import INPUT_NAME, OUTPUT_NAME

SOURCES = {"mobile_uint8": "qat", "mobile_float16": "float"}  # variant -> the run's model it is made from
MOBILE_VARIANTS = tuple(SOURCES)
CHANNELS = 3


def rgb_input_model(model: keras.Model) -> keras.Model:
    """`model` (28x28x1 input) behind a 28x28x3 input averaged to gray inside the graph."""
    image = keras.Input((*model.input_shape[1:3], CHANNELS), name=INPUT_NAME)
    gray = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name="rgb_to_gray",
                               kernel_initializer=keras.initializers.Constant(1.0 / CHANNELS))(image)
    return keras.Model(image, model(gray, training=False), name=f"{model.name}_rgb")


def convert_mobile(name: str, model: keras.Model, representative: np.ndarray | None = None) -> bytes:
    """The converter's .tflite bytes for mobile variant `name` of `model` (the run's 1-channel model).

    mobile_uint8 calibrates the gray conversion on `representative` (normalized N x 28 x 28 x 1 images);
    the QAT model's own ranges fix everything after it.
    """
    if name not in SOURCES:
        raise DigitedgeError(f"unknown mobile variant '{name}'; expected one of {', '.join(MOBILE_VARIANTS)}")
    rgb = rgb_input_model(model)

    def serve(image):
        return {OUTPUT_NAME: rgb(image, training=False)}

    module = tf.Module()
    module.model_variables = list(rgb.variables)
    module.serve = tf.function(serve, autograph=False, input_signature=[
        tf.TensorSpec((None, *rgb.input_shape[1:]), tf.float32, INPUT_NAME)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if name == "mobile_float16":
        converter.target_spec.supported_types = [tf.float16]
    else:
        if representative is None or len(representative) == 0:
            raise DigitedgeError(f"{name}: full-integer conversion needs representative images")
        images = np.repeat(np.asarray(representative, np.float32), CHANNELS, axis=-1)
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return bytes(converter.convert())
