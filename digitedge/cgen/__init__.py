"""Standalone C inference generated from an int8 .tflite, bit-exact with TFLite Micro (MVE, DSP or
plain C kernels picked by the compiler), and its bare-metal self-test on emulated Cortex-M cores."""

from digitedge.cgen.emit import generate_c_sources
from digitedge.cgen.export import export_c
from digitedge.cgen.host import run_on_host
from digitedge.cgen.layers import SUPPORTED_OPS
from digitedge.cgen.oracle import quantize_images, tflm_outputs
from digitedge.cgen.qemu import QemuResult, format_qemu_result, missing_tools, run_on_qemu

__all__ = [
    "QemuResult", "SUPPORTED_OPS", "export_c", "format_qemu_result", "generate_c_sources", "missing_tools",
    "quantize_images", "run_on_host", "run_on_qemu", "tflm_outputs",
]
