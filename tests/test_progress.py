"""Progress bars on a terminal only: TFLite Micro over a test set, evaluate, the benchmark rounds."""

from __future__ import annotations

import io
import sys

import numpy as np

from digitedge.progress import progress
from micro_fixtures import tiny_tflite


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_gets_the_items_and_nothing_else(capsys):
    assert list(progress(range(7), "counting")) == list(range(7))
    assert capsys.readouterr() == ("", "")


def test_a_terminal_gets_a_bar_to_100_percent():
    terminal = Terminal()
    assert list(progress(["a", "b", "c"], "letters", file=terminal)) == ["a", "b", "c"]
    assert "letters" in terminal.getvalue() and "3/3" in terminal.getvalue()


def test_show_false_draws_nothing_on_a_terminal():
    terminal = Terminal()
    assert list(progress(range(3), "hidden", show=False, file=terminal)) == [0, 1, 2]
    assert terminal.getvalue() == ""


def _images(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, (count, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, count)


def test_tflm_parity_and_benchmark_draw_bars_on_a_terminal_only(monkeypatch, capsys):
    from digitedge.benchmark import benchmark_variants
    from digitedge.micro import compare_tflm_litert

    images, labels = _images(20)
    tflite = tiny_tflite("int8_ptq")

    def run_both() -> None:
        compare_tflm_litert(tflite, images, labels, label="tiny")
        benchmark_variants({"tiny": tflite}, runs=5, warmup=1, tflm_runs=2, measure_memory=False, load_repeats=1)

    run_both()  # stdout is pytest's capture, not a terminal
    assert capsys.readouterr().out == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    run_both()
    shown = terminal.getvalue()
    assert "TFLite Micro: tiny, images" in shown and "20/20" in shown and "benchmark: rounds of 3 models" in shown


def test_evaluate_draws_a_bar_on_a_terminal_only(monkeypatch, capsys):
    from digitedge.evaluate import evaluate_variants

    images, labels = _images(20)
    evaluate_variants((images * 255).astype(np.uint8)[..., 0], labels, tflite_variants={"tiny": tiny_tflite("int8_ptq")})
    assert capsys.readouterr().out == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    evaluate_variants((images * 255).astype(np.uint8)[..., 0], labels, tflite_variants={"tiny": tiny_tflite("int8_ptq")})
    assert "evaluate: variants on 20 images" in terminal.getvalue() and "1/1" in terminal.getvalue()
