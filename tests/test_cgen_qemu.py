"""The bare-metal self-test on QEMU's mps2-an386 (Cortex-M4): 1,000 real digits, bit-exact with TFLM.

Skipped only where the ARM toolchain or QEMU is not installed, never in CI (see tests/arm_toolchain.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from digitedge.cgen import format_qemu_result, run_on_qemu
from arm_toolchain import needs_arm_toolchain
from cgen_fixtures import compact_int8, compact_test_outputs, depthwise_int8

pytestmark = [pytest.mark.mnist, needs_arm_toolchain]

FLASH_BUDGET_OVER_TFLITE = 16 * 1024


@pytest.fixture(scope="module")
def qemu_run():
    images, labels, _, expected = compact_test_outputs()
    return run_on_qemu(compact_int8(), images, labels, expected_outputs=expected)


def test_1000_digits_on_the_emulated_cortex_m4_are_bit_exact(qemu_run):
    _, labels, _, expected = compact_test_outputs()
    assert qemu_run.images == 1000
    assert qemu_run.bit_exact == 1000, f"mismatched images: {qemu_run.mismatched_images[:10]}"
    assert qemu_run.exit_status == 0
    assert qemu_run.correct == int(np.sum(expected.argmax(1) == labels))  # same predictions as TFLM


def test_firmware_fits_the_flash_budget_and_reports_instructions(qemu_run):
    assert qemu_run.flash_bytes <= qemu_run.tflite_bytes + FLASH_BUDGET_OVER_TFLITE
    assert 0 < qemu_run.model_flash_bytes < qemu_run.flash_bytes
    assert qemu_run.flash_bytes < 1000 * 784  # the digits are streamed from the host, not linked in
    assert 0 < qemu_run.stack_used_bytes <= qemu_run.stack_reserved_bytes
    assert qemu_run.ram_bytes == qemu_run.model_ram_bytes + qemu_run.stack_used_bytes
    assert qemu_run.instructions_min <= qemu_run.instructions_per_inference <= qemu_run.instructions_max
    report = format_qemu_result(qemu_run)
    assert "1000/1000 outputs equal to TFLite Micro's (bit-exact)" in report
    assert f"instructions per inference {qemu_run.instructions_per_inference:,.0f}" in report


def test_firmware_ram_is_within_the_tflite_micro_arena(qemu_run):
    arena = pytest.importorskip("digitedge.micro.arena", reason="digitedge.micro not available")
    assert qemu_run.ram_bytes <= arena.find_arena_size(compact_int8()).minimum_bytes


def test_a_wrong_expected_output_fails_the_run_with_a_nonzero_status():
    images, labels, _, expected = compact_test_outputs()
    tampered = expected[:4].copy()
    tampered[2, 5] += 1
    result = run_on_qemu(compact_int8(), images[:4], labels[:4], expected_outputs=tampered,
                         count_instructions=False)
    assert (result.bit_exact, result.mismatched_images, result.exit_status) == (3, (2,), 1)
    assert result.instructions_per_inference is None


def test_depthwise_average_pool_model_is_bit_exact_on_the_cortex_m4():
    images, labels, _, _ = compact_test_outputs()
    result = run_on_qemu(depthwise_int8(), images[:50], labels[:50], count_instructions=False)
    assert (result.bit_exact, result.exit_status) == (50, 0), f"mismatched: {result.mismatched_images[:10]}"
