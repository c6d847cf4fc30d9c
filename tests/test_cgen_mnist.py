"""The generated C on real MNIST digits, on the host: every int8 output equal to TFLite Micro's.

(scripts/check_baremetal.py does all 10,000 test digits.)
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from digitedge.cgen import export_c, quantize_images, run_on_host, tflm_outputs
from digitedge.cgen.host import HOST_CFLAGS, host_compiler
from digitedge.cgen.layers import Conv, Pool, parse_model
from digitedge.data import load_mnist
from digitedge.tflite_model import read_tflite
from test_cgen_fixtures import compact_int8, compact_test_outputs, depthwise_int8

pytestmark = pytest.mark.mnist


def _assert_bit_exact(actual: np.ndarray, expected: np.ndarray) -> None:
    differing = np.flatnonzero(np.any(actual != expected, axis=1))
    assert differing.size == 0, f"{differing.size} of {len(expected)} images differ from TFLM, first {differing[:5]}"


def test_compact_model_is_bit_exact_with_tflite_micro_on_500_test_digits():
    images, labels, model_inputs, expected = compact_test_outputs()
    actual = run_on_host(compact_int8(), model_inputs[:500])
    _assert_bit_exact(actual, expected[:500])
    assert np.mean(actual.argmax(1) == labels[:500]) > 0.5  # a trained model, not a constant output


def test_depthwise_average_pool_same_stride2_relu6_model_is_bit_exact():
    tflite_bytes = depthwise_int8()
    layers = parse_model(tflite_bytes).layers
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    assert {layer.op for layer in layers} >= {"DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "CONV_2D", "SOFTMAX"}
    assert any(layer.padding_name == "SAME" and layer.stride == (2, 2) for layer in convs)
    assert {layer.activation for layer in convs} >= {"RELU6", "RELU"}
    assert any(isinstance(layer, Pool) and layer.padding_name == "SAME" for layer in layers)
    mnist = load_mnist()
    model_inputs = quantize_images(mnist.x_test[:300], read_tflite(tflite_bytes).input)
    _assert_bit_exact(run_on_host(tflite_bytes, model_inputs), tflm_outputs(tflite_bytes, model_inputs))


def test_export_writes_a_header_and_source_that_declare_the_inference_function(tmp_path):
    written = export_c(compact_int8(), tmp_path / "c", name="mnist_cnn")
    kernels = ["cgen.h", "conv_s8.h", "dot_s8.h", "fully_connected_s8.h", "requantize.h", "softmax_s8.h"]
    assert sorted(p.name for p in written) == sorted([*kernels, "mnist_cnn_model.c", "mnist_cnn_model.h"])
    header = (tmp_path / "c" / "mnist_cnn_model.h").read_text()
    assert "void mnist_cnn_infer(const int8_t input[MNIST_CNN_INPUT_SIZE], int8_t output[MNIST_CNN_OUTPUT_SIZE]);" \
        in header
    assert "#define MNIST_CNN_INPUT_SIZE 784" in header and "#define MNIST_CNN_OUTPUT_SIZE 10" in header
    source = (tmp_path / "c" / "mnist_cnn_model.c").read_text()
    includes = {line.split()[1] for line in source.splitlines() if line.startswith("#include")}
    assert includes == {'"mnist_cnn_model.h"', "<string.h>", '"conv_s8.h"', '"fully_connected_s8.h"', '"softmax_s8.h"'}
    every_include = {line.split()[1] for path in written for line in path.read_text().splitlines()
                     if line.startswith("#include")}
    # no TFLite Micro: the folder alone builds
    assert every_include <= {*includes, *(f'"{k}"' for k in kernels), "<stdint.h>", "<arm_acle.h>", "<arm_mve.h>"}
    build = subprocess.run([host_compiler(), *HOST_CFLAGS, "-c", str(tmp_path / "c" / "mnist_cnn_model.c"), "-o",
                            str(tmp_path / "model.o")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
