"""The board matrix: the bare-metal self-test on all six emulated cores (M0 micro:bit, M3, M4, M7, M33,
M55), the calibrated instruction counter, and the test digits streamed from the host.

Hand-written models of known cost (a counted loop that copies its first input bytes out) test the
firmware itself in a second per board; the real compact model checks bit-exactness on every core.
Skipped only where the ARM toolchain or QEMU is not installed, never in CI (see tests/arm_toolchain.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from arm_toolchain import needs_arm_toolchain
from digitedge.cgen.boards import BOARDS, boards
from digitedge.cgen.firmware import digits_file
from digitedge.cgen.qemu import run_firmware, run_on_qemu
from digitedge.errors import DigitedgeError

LOOPS = 250_000
INSTRUCTIONS_PER_LOOP = 4  # ADDS, ADDS, SUBS, BNE
OUTPUTS = 10

LOOP_MODEL_H = f"""#ifndef DIGITEDGE_MODEL_H
#define DIGITEDGE_MODEL_H
#include <stdint.h>
#define DIGITEDGE_INPUT_SIZE 784
#define DIGITEDGE_OUTPUT_SIZE {OUTPUTS}
void digitedge_infer(const int8_t input[DIGITEDGE_INPUT_SIZE], int8_t output[DIGITEDGE_OUTPUT_SIZE]);
#endif
"""

LOOP_MODEL_C = f"""/* A "model" of known cost: {LOOPS} loops of {INSTRUCTIONS_PER_LOOP} instructions, then its first
 * {OUTPUTS} inputs as outputs. */
#include "digitedge_model.h"

void digitedge_infer(const int8_t input[DIGITEDGE_INPUT_SIZE], int8_t output[DIGITEDGE_OUTPUT_SIZE])
{{
    uint32_t loops = {LOOPS}UL, a = 0, b = 0;
    int i;
#if defined(__thumb2__)
#define UNIFIED(code) code
#else /* GCC hands Thumb-1 (M0) inline assembly to the assembler in divided syntax */
#define UNIFIED(code) ".syntax unified\\n" code "\\n\\t.syntax divided"
#endif
    __asm__ volatile(UNIFIED("1: adds %1, %1, #1\\n\\tadds %2, %2, #1\\n\\tsubs %0, %0, #1\\n\\tbne 1b")
                     : "+l"(loops), "+l"(a), "+l"(b) : : "cc");
    for (i = 0; i < DIGITEDGE_OUTPUT_SIZE; ++i) {{
        output[i] = input[i];
    }}
}}
"""
LOOP_MODEL = {"digitedge_model.h": LOOP_MODEL_H, "digitedge_model.c": LOOP_MODEL_C}


def loop_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random int8 inputs, random labels, and the loop model's outputs for them (its first inputs)."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(-128, 128, (count, 784)).astype(np.int8)
    return inputs, rng.integers(0, 10, count), inputs[:, :OUTPUTS].copy()


def test_the_board_table_names_six_cores_and_refuses_an_unknown_board():
    assert [board.name for board in boards("all")] == ["m0", "m3", "m4", "m7", "m33", "m55"]
    assert [board.machine for board in boards("m0, m55")] == ["microbit", "mps3-an547"]
    assert (BOARDS["m0"].flash_bytes, BOARDS["m0"].ram_bytes) == (256 * 1024, 16 * 1024)
    with pytest.raises(DigitedgeError, match=r"unknown board 'm9'; choose one of m0, m3, m4, m7, m33, m55 or all"):
        boards("m4,m9")


def test_the_digits_file_refuses_a_missing_label():
    inputs, labels, expected = loop_digits(3)
    with pytest.raises(DigitedgeError, match="one label and one expected output per test image"):
        digits_file(inputs, labels[:2], expected)


@needs_arm_toolchain
@pytest.mark.parametrize("name", list(BOARDS))
def test_every_core_counts_a_loop_of_known_length_in_instructions(name):
    inputs, labels, expected = loop_digits(3)
    result = run_firmware(LOOP_MODEL, digits_file(inputs, labels, expected), 3, BOARDS[name])
    known = LOOPS * INSTRUCTIONS_PER_LOOP
    assert (result.bit_exact, result.exit_status) == (3, 0)
    # the call, the copy of 10 outputs and one tick of the board's SysTick on either side
    slack = 100 + 2 * result.calibration_instructions_per_tick
    assert result.instructions_min >= known - slack and result.instructions_max <= known + slack, \
        (result.instructions_min, result.instructions_max, known)


@needs_arm_toolchain
def test_the_micro_bit_streams_more_digits_than_its_flash_and_ram_hold():
    count = 400  # 400 x 795 B records = 318 KB > 256 KB flash + 16 KB RAM
    inputs, labels, expected = loop_digits(count, seed=1)
    digits = digits_file(inputs, labels, expected)
    assert len(digits) > (256 + 16) * 1024
    result = run_firmware(LOOP_MODEL, digits, count, BOARDS["m0"], count_instructions=False)
    assert (result.images, result.bit_exact, result.exit_status) == (count, count, 0)
    # labels arrive with their images, in order: the firmware's arg-max agrees with numpy's
    assert result.correct == int(np.sum(expected.argmax(1) == labels))
    assert result.flash_bytes < 8 * 1024  # the loop model's image: the digits are not in it


@needs_arm_toolchain
def test_a_wrong_expected_output_is_reported_by_image_and_fails_the_run():
    inputs, labels, expected = loop_digits(5, seed=2)
    expected[3, 7] ^= 1
    result = run_firmware(LOOP_MODEL, digits_file(inputs, labels, expected), 5, BOARDS["m0"],
                          count_instructions=False)
    assert (result.bit_exact, result.mismatched_images, result.exit_status) == (4, (3,), 1)


@needs_arm_toolchain
def test_a_digits_file_for_another_model_stops_the_firmware_with_status_2():
    inputs, labels, _ = loop_digits(2)
    wrong_outputs = np.zeros((2, OUTPUTS + 1), dtype=np.int8)  # the header says 11 outputs, the model has 10
    with pytest.raises(RuntimeError, match=r"(?s)status 2\) after 0 of 2 images:.*does not match the model"):
        run_firmware(LOOP_MODEL, digits_file(inputs, labels, wrong_outputs), 2, BOARDS["m4"],
                     count_instructions=False)


@needs_arm_toolchain
@pytest.mark.mnist
@pytest.mark.parametrize("name", list(BOARDS))
def test_the_compact_model_is_bit_exact_on_every_core(name):
    from cgen_fixtures import compact_int8, compact_test_outputs

    images, labels, _, expected = compact_test_outputs()
    result = run_on_qemu(compact_int8(), images[:20], labels[:20], board=name, expected_outputs=expected[:20])
    assert (result.images, result.bit_exact, result.exit_status) == (20, 20, 0), result.mismatched_images
    assert result.correct == int(np.sum(expected[:20].argmax(1) == labels[:20]))
    assert result.ram_bytes == result.model_ram_bytes + result.stack_used_bytes
    assert 0 < result.model_flash_bytes < result.flash_bytes
    assert 0 < result.instructions_min <= result.instructions_per_inference <= result.instructions_max


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """A run folder with one int8 variant: a 784 -> 10 fully connected layer (built in milliseconds)."""
    import json

    from cgen_fixtures import fully_connected_model

    run = tmp_path_factory.mktemp("board-run")
    (run / "tflite").mkdir()
    (run / "config.toml").write_text("")
    (run / "manifest.json").write_text(json.dumps({"stages": {"convert": {"int8_qat": {}}}}))
    (run / "tflite" / "int8_qat.tflite").write_bytes(fully_connected_model(0, in_shape=(1, 28, 28, 1), units=10))
    return run


@needs_arm_toolchain
@pytest.mark.mnist
def test_firmware_run_writes_the_board_table_for_the_boards_asked(fake_run, tmp_path):
    import pandas as pd

    from test_cli_errors import must_succeed

    out = must_succeed("firmware", "run", "--run", fake_run, "--board", "m0,m55", "--images", "5",
                       "--out", tmp_path / "board")
    table = pd.read_csv(tmp_path / "board" / "board.csv")
    assert list(table.board) == ["m0", "m55"] and set(table.variant) == {"int8_qat"}
    assert list(table.bit_exact) == [5, 5]
    assert (table.instructions_per_mac == table.instructions_per_inference / table.macs).all()
    assert table.tflm_arena_bytes.min() > 0  # measured: this run's manifest has no micro stage
    assert "instructions counted by QEMU -icount (not cycles or time)" in out


@pytest.mark.parametrize("args, env, message", [
    (("--board", "m9"), None, "Error: unknown board 'm9'; choose one of m0, m3, m4, m7, m33, m55 or all"),
    (("--variant", "pruned_int8"), None, "is not in {run}; choose one of int8_qat"),
    ((), {"PATH": "/nonexistent"}, "install with: apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi "
                                   "qemu-system-arm"),
])
def test_firmware_run_mistakes_are_one_line_errors(fake_run, args, env, message):
    from test_cli_errors import run_cli

    code, out, err = run_cli("firmware", "run", "--run", fake_run, *args, env=env)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert message.format(run=fake_run) in err


def test_the_board_config_section_names_its_key_when_a_board_is_unknown():
    from digitedge import config

    assert config.load(None, {}).board.boards == "m4"
    assert config.load(None, {"board.boards": "all"}).board.boards == "all"
    with pytest.raises(DigitedgeError, match=r"^board.boards: unknown board 'm9'"):
        config.load(None, {"board.boards": "m0,m9"})


@needs_arm_toolchain
@pytest.mark.mnist
def test_the_board_stage_records_its_table_summary_columns_and_report_facts(fake_run, tmp_path):
    import shutil

    from digitedge.pipeline import board_stage
    from digitedge.rundir import RunDir
    from test_cli_errors import must_succeed

    run = shutil.copytree(fake_run, tmp_path / "run")
    (run / "config.toml").write_text("[board]\nimages = 20\n")
    must_succeed("board", "--run", run, "--board", "m0,m4")
    record = RunDir(run).read_manifest()["stages"]["board"]
    assert record["boards"] == ["m0", "m4"] and record["images"] == 20
    assert sorted(record["outputs"]) == ["board/board.csv", "board/board.json", "board/board.md"]
    summary = board_stage.STAGE.summary(RunDir(run))
    assert summary.loc["int8_qat", "c_board"] == "Cortex-M4F" and summary.loc["int8_qat", "c_bit_exact"] == 1.0
    facts = board_stage.STAGE.facts(record)
    assert list(facts) == ["generated C on Cortex-M0 (QEMU microbit, 20 digits)",
                           "generated C on Cortex-M4F (QEMU mps2-an386, 20 digits)"]
    assert "| int8_qat | Cortex-M0 | 20/20 |" in (run / "board" / "board.md").read_text()


def test_the_board_stage_skips_with_the_packages_to_install_when_the_toolchain_is_missing(fake_run, monkeypatch):
    from digitedge import config
    from digitedge.cgen import qemu
    from digitedge.pipeline import Context
    from digitedge.pipeline.board_stage import run_board
    from digitedge.rundir import RunDir

    monkeypatch.setattr(qemu, "missing_tools", lambda: ["qemu-system-arm"])
    lines = []
    run_board(Context(RunDir(fake_run), config.load(None, {}), echo=lines.append))
    assert lines == ["[board] skipped: missing qemu-system-arm; install with: apt-get install -y gcc-arm-none-eabi "
                     "libnewlib-arm-none-eabi qemu-system-arm"]
    assert "board" not in RunDir(fake_run).read_manifest()["stages"]
