"""What a bare-metal self-test needs besides digitedge/firmware/baremetal: the generated model
sources, and the test digits as a file the firmware streams from the host with semihosting reads.

Streaming keeps the digits out of the image: its flash is what a product would flash, and the
micro:bit's 256 KB of flash / 16 KB of RAM run the same 1,000 digits as the 4 MB boards.
"""

from __future__ import annotations

import struct

import numpy as np

from digitedge.cgen.emit import generate_c_sources
from digitedge.errors import DigitedgeError

FIRMWARE_NAME = "digitedge"  # digitedge/firmware/baremetal/main.c calls digitedge_infer()
DIGITS_FILE = "digits.bin"   # main.c's TEST_DIGITS_FILE, opened in QEMU's working folder
DIGITS_MAGIC = b"DGT1"


def digits_file(model_inputs: np.ndarray, labels: np.ndarray, expected_outputs: np.ndarray) -> bytes:
    """The digits file main.c reads: header ("DGT1", count, input size, output size, little-endian
    uint32) then per image its int8 input, uint8 label and TFLite Micro's int8 output."""
    inputs = np.asarray(model_inputs, dtype=np.int8).reshape(len(model_inputs), -1)
    expected = np.asarray(expected_outputs, dtype=np.int8).reshape(len(expected_outputs), -1)
    labels = np.asarray(labels).reshape(-1)
    if len(inputs) == 0 or not len(labels) == len(expected) == len(inputs):
        raise DigitedgeError(f"need one label and one expected output per test image, got {len(labels)} labels "
                             f"and {len(expected)} outputs for {len(inputs)} images")
    records = np.concatenate([inputs.view(np.uint8), labels.astype(np.uint8)[:, None], expected.view(np.uint8)],
                             axis=1)
    header = DIGITS_MAGIC + struct.pack("<III", len(inputs), inputs.shape[1], expected.shape[1])
    return header + records.tobytes()


def firmware_sources(tflite_bytes: bytes) -> dict[str, str]:
    """digitedge_model.h/.c for digitedge/firmware/baremetal."""
    return generate_c_sources(tflite_bytes, name=FIRMWARE_NAME)
