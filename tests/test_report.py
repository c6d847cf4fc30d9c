"""report: a tiny synthetic run rendered to Markdown, self-contained HTML, CSV and PNGs, with a
recommendation per target that follows the numbers."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from digitedge.errors import DigitedgeError
from digitedge.evaluate import Misclassified
from digitedge.report import SUMMARY_KEYS, RunFacts, format_summary, recommend_targets, write_report
from digitedge.report.tables import SUMMARY_COLUMNS, pareto_front, points
from digitedge.targets import Budget

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _summary() -> pd.DataFrame:
    """Variants listed out of display order; int8_qat is the smallest within 0.1 points."""
    rows = {
        #  variant:          accuracy, size,   gzip,   sparsity, median, tflm_runs
        "int8_ptq":         (0.9890, 24_000, 20_000, 0.0, 30.0, True),
        "float32":          (0.9910, 80_000, 72_000, 0.0, 60.0, "no: float ops"),
        "pruned_qat_int8":  (0.9905, 24_500, 12_000, 0.75, 31.0, True),
        "int8_qat":         (0.9904, 24_000, 19_000, 0.0, 29.0, True),
        "keras_float":      (0.9910, np.nan, np.nan, 0.0, np.nan, np.nan),
    }
    frame = pd.DataFrame([
        {"variant": name, "accuracy": acc, "delta_pp": 100 * (acc - 0.9910), "agreement": 0.995,
         "size_bytes": size, "size_ratio": size / 80_000, "gzip_bytes": gz, "gzip_ratio": gz / 72_000,
         "sparsity": sparsity, "latency_median_us": median, "latency_p90_us": median * 1.2,
         "speedup_vs_float32": 60.0 / median, "tflm_arena_bytes": 14_000 if tflm is True else np.nan,
         "tflm_runs": tflm, "macs": 1.4e6, "tflm_accuracy": acc if tflm is True else np.nan,
         "tflm_header_arena_bytes": 15_408 if tflm is True else np.nan}
        for name, (acc, size, gz, sparsity, median, tflm) in rows.items()])
    frame["tflm_runs"] = frame["tflm_runs"].astype(object)
    return frame


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    metrics_csv = out.parent / "training_metrics.csv"
    pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.5, 0.2, 0.1], "accuracy": [0.9, 0.96, 0.98],
                  "val_loss": [0.3, 0.15, 0.12], "val_accuracy": [0.95, 0.975, 0.97]}).to_csv(metrics_csv, index=False)
    confusion = np.diag(np.full(10, 98)) + rng.integers(0, 2, (10, 10))
    lost = Misclassified(np.array([3, 17]), rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
                         np.array([4, 9]), np.array([4, 9]), np.array([9, 7]))
    profile = pd.DataFrame({"op": ["CONV_2D", "FULLY_CONNECTED"], "macs": [97_344, 5_120]})
    facts = RunFacts("tiny", "0" * 64, {"tensorflow": "2.21.0"}, "digitedge report runs/tiny", "abc1234",
                     {"benchmark": "1 thread"})
    files = write_report(_summary(), out, facts=facts, training_metrics=metrics_csv, confusion_float=confusion,
                         confusion_int8=confusion + np.eye(10, dtype=int), misclassified=lost,
                         layer_profile=profile, int8_variant="int8_qat", latency_note="LiteRT XNNPACK.")
    return files


def _variants_table(markdown: str) -> list[list[str]]:
    section = markdown.split("## All variants")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if not line.startswith("|:")]


def test_every_summary_column_is_rendered_and_formatted(written):
    table = _variants_table(written.markdown.read_text())
    header, rows = table[0], {row[0]: dict(zip(table[0], row)) for row in table[1:]}
    assert header == ["Variant"] + [column.header for column in SUMMARY_COLUMNS] + ["TFLM accuracy"]
    assert list(rows) == ["keras_float", "float32", "int8_ptq", "int8_qat", "pruned_qat_int8"]  # display order
    qat = rows["int8_qat"]
    assert qat["Accuracy"] == "99.04%" and qat["Δ vs float (points)"] == "−0.06"
    assert qat["Size"] == "23.4 KB" and qat["Size vs float32"] == "×0.30"
    assert qat["gzip size"] == "18.6 KB" and qat["Zero weights"] == "0.00%"
    assert qat["Median µs"] == "29.0" and qat["p90 µs"] == "34.8" and qat["Speed vs float32"] == "×2.07"
    assert qat["TFLM arena"] == "13.7 KB" and qat["Runs on TFLM"] == "yes" and qat["MACs"] == "1.40 M"
    assert rows["float32"]["Runs on TFLM"] == "no: float ops"
    assert rows["keras_float"]["Size"] == "—" and rows["keras_float"]["Median µs"] == "—"


def _recommended(summary, **options) -> dict:
    return {target.target: target.variant for target in recommend_targets(summary, **options)}


def test_one_recommendation_per_target(written):
    markdown = written.markdown.read_text()
    deploy = markdown.split("## What to deploy, per target")[1].split("\n## ")[0]
    assert "**Microcontroller, TensorFlow Lite Micro: `int8_qat`.**" in deploy
    assert "accuracy on TFLite Micro 99.04% against 99.10% for float (−0.06 points)" in deploy
    assert "kTensorArenaSize 15.0 KB" in deploy and "`digitedge export --int8` deploys it by default" in deploy
    assert "int8_ptq (−0.20 points)" in deploy  # same size, outside tolerance: named as excluded
    assert "**Microcontroller, generated C (`--target c`): not measured in this run.**" in deploy
    assert "**Mobile / desktop CPU (LiteRT): fastest: `int8_qat`.**" in deploy  # 29 µs against 31 µs
    assert "**Mobile / desktop CPU (LiteRT): smallest: `int8_qat`.**" in deploy
    assert "pruned_qat_int8 is smaller after gzip" in deploy
    assert [target.variant for target in written.recommendations] == ["int8_qat", None, "int8_qat", "int8_qat"]


def test_recommendations_follow_the_numbers():
    summary = _summary().set_index("variant")
    summary.loc["int8_qat", ["delta_pp", "tflm_accuracy"]] = [-0.5, 0.986]
    picked = _recommended(summary)
    assert picked["Microcontroller, TensorFlow Lite Micro"] == "pruned_qat_int8"
    assert picked["Mobile / desktop CPU (LiteRT): smallest"] == "pruned_qat_int8"
    summary.loc["pruned_qat_int8", ["delta_pp", "tflm_accuracy"]] = [-0.3, 0.988]
    picked = _recommended(summary)
    assert picked["Microcontroller, TensorFlow Lite Micro"] is None  # float32 is within but not full-integer
    assert picked["Mobile / desktop CPU (LiteRT): smallest"] == "float32"
    assert _recommended(summary, tolerance_pp=0.25)["Microcontroller, TensorFlow Lite Micro"] == "int8_ptq"
    summary["delta_pp"] = -1.0
    assert _recommended(summary)["Mobile / desktop CPU (LiteRT)"] is None


def test_the_microcontroller_pick_uses_tflm_accuracy_not_litert():
    summary = _summary().set_index("variant")
    summary.loc["int8_qat", "tflm_accuracy"] = 0.9880  # LiteRT within tolerance, TFLM 0.3 points below
    assert _recommended(summary)["Microcontroller, TensorFlow Lite Micro"] == "pruned_qat_int8"


def test_a_board_budget_excludes_and_marks_what_does_not_fit(tmp_path):
    summary = _summary().set_index("variant")
    summary.loc["pruned_qat_int8", "tflm_header_arena_bytes"] = 12_000
    budget = Budget(flash_bytes=256 * 1024, ram_bytes=14_000)  # int8_qat's 15,408-byte arena does not fit
    assert _recommended(summary, budget=budget)["Microcontroller, TensorFlow Lite Micro"] == "pruned_qat_int8"
    files = write_report(summary, tmp_path, facts=RunFacts("x", "x", {}, "cmd"), int8_variant="pruned_qat_int8",
                         budget=budget)
    markdown = files.markdown.read_text()
    rows = {row[0]: dict(zip(_variants_table(markdown)[0], row)) for row in _variants_table(markdown)[1:]}
    assert rows["int8_qat"]["Fits the board"] == "no: RAM 15,408 B > budget 14,000 B"
    assert rows["pruned_qat_int8"]["Fits the board"] == "yes" and rows["float32"]["Fits the board"] == "—"
    assert "over the board budget: int8_qat (RAM 15,408 B > budget 14,000 B)" in markdown
    nothing_fits = Budget(flash_bytes=1_000)
    assert _recommended(summary, budget=nothing_fits)["Microcontroller, TensorFlow Lite Micro"] is None


def test_the_console_summary_is_formatted_like_the_report():
    text = format_summary(_summary())
    assert "nan" not in text.lower() and "23.4 KB" in text and "99.04%" in text and "—" in text
    lines = text.splitlines()
    assert lines[0].startswith("Variant") and len({len(line) for line in lines}) == 1  # aligned


def test_html_is_self_contained(written):
    page = written.html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == len(written.plots) == 6
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "<table>" in page and "int8_qat" in page


def test_plots_are_written_small_and_linked(written):
    markdown = written.markdown.read_text()
    assert set(written.plots) == {"accuracy_vs_size.png", "accuracy_vs_flash.png", "latency.png",
                                  "training_curves.png", "confusion_matrices.png", "misclassified.png"}
    for name, path in written.plots.items():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) < 150_000, name
        assert f"]({name})" in markdown
    total = sum(path.stat().st_size for path in written.markdown.parent.iterdir())
    assert total < 800_000


def test_sections_facts_and_csv(written):
    markdown = written.markdown.read_text()
    for heading in ["## What to deploy", "## All variants", "## Accuracy against size", "## Latency", "## Training",
                    "## Per-layer profile", "## Run facts"]:
        assert heading in markdown
    assert markdown.index("## What to deploy") < markdown.index("## All variants") < markdown.index("## Run facts")
    assert "the weights kept are epoch 3's, with the lowest validation loss (0.1200; validation accuracy 97.00%)" in markdown
    assert "gets **2** test images wrong" in markdown and "3, 17" in markdown
    assert "| CONV_2D | 97,344 |" in markdown
    assert "digitedge report runs/tiny" in markdown and "abc1234" in markdown and "0" * 64 in markdown
    saved = pd.read_csv(written.summary_csv, index_col="variant")
    assert set(SUMMARY_KEYS) <= set(saved.columns)
    assert saved.at["int8_qat", "accuracy"] == pytest.approx(0.9904)


def test_missing_columns_show_as_dashes(tmp_path):
    summary = _summary()[["variant", "accuracy", "delta_pp", "size_bytes"]]
    files = write_report(summary, tmp_path, facts=RunFacts("bare", "x", {}, "cmd"))
    rows = _variants_table(files.markdown.read_text())
    assert len(rows[0]) == len(SUMMARY_COLUMNS) + 1
    qat = dict(zip(rows[0], next(row for row in rows if row[0] == "int8_qat")))
    assert qat["Accuracy"] == "99.04%" and qat["Median µs"] == "—" and qat["Runs on TFLM"] == "—"
    assert "latency.png" not in files.plots  # nothing was timed


def test_bad_inputs(tmp_path):
    summary = _summary()
    summary["accuracy"] *= 100  # percentages where fractions are expected: a caller's bug
    with pytest.raises(ValueError, match="accuracy"):
        write_report(summary, tmp_path, facts=RunFacts("x", "x", {}, "cmd"))
    with pytest.raises(DigitedgeError, match="does not exist"):
        write_report(_summary(), tmp_path, facts=RunFacts("x", "x", {}, "cmd"),
                     training_metrics=tmp_path / "missing.csv")


def test_pareto_front_and_points():
    sizes = pd.Series({"a": 10.0, "b": 20.0, "c": 20.0, "d": 40.0})
    accuracies = pd.Series({"a": 0.90, "b": 0.95, "c": 0.94, "d": 0.95})
    assert pareto_front(sizes, accuracies) == ["a", "b"]
    assert points(-0.004) == "0.00" and points(-0.25) == "−0.25" and points(0.1) == "+0.10"


def test_tflm_latency_column_appears_when_given(tmp_path):
    summary = _summary()
    summary["tflm_latency_median_us"] = [900.0, np.nan, 950.0, 910.0, np.nan]
    rows = _variants_table(write_report(summary, tmp_path, facts=RunFacts("x", "x", {}, "cmd")).markdown.read_text())
    assert rows[0][-1] == "TFLM host µs"
    assert dict(zip(rows[0], next(row for row in rows if row[0] == "int8_qat")))["TFLM host µs"] == "910.0"


def test_seed_baseline_is_compared_but_never_recommended(tmp_path):
    summary = _summary().set_index("variant")
    summary.loc["seed_float"] = summary.loc["float32"]
    summary.loc["seed_float", ["accuracy", "delta_pp", "size_bytes"]] = [0.9915, 0.05, 4_800_000]
    files = write_report(summary, tmp_path, facts=RunFacts("x", "x", {}, "cmd"), int8_variant="int8_qat")
    markdown = files.markdown.read_text()
    assert files.recommendations[0].variant == "int8_qat"
    assert [row[0] for row in _variants_table(markdown)][-1] == "seed_float"
    assert ("`int8_qat` is 200.0× smaller (23.4 KB against 4,687.5 KB) with accuracy 99.04% against 99.15% "
            "(−0.11 points)") in markdown
    assert markdown.count("5 variants of the handwritten-digit classifier") == 1
    summary.loc["seed_float", "size_bytes"] = 1_000  # smallest and within tolerance: still another model
    assert "seed_float" not in _recommended(summary).values()


def test_the_flash_chart_draws_bitnetmcu_and_the_c_recommendation_picks_by_board_flash():
    from digitedge.report.plots import accuracy_vs_flash
    from digitedge.report.tables import ordered_summary

    summary = pd.DataFrame({  # int4 is smallest as C but 0.3 points below float; mixed is the pick
        "variant": ["keras_float", "int8_qat", "int4_qat", "mixed_qat"], "accuracy": [0.995, 0.995, 0.992, 0.995],
        "delta_pp": [0.0, 0.0, -0.3, 0.0], "tflm_accuracy": [None, 0.995, 0.992, 0.995],
        "size_bytes": [None, 23944, 14400, 14440], "tflm_arena_bytes": [None, 11472, 19760, 19744],
        "c_board": [None, "Cortex-M4F"] * 2, "c_bit_exact": [None, 1.0, 1.0, 1.0],
        "c_flash_bytes": [None, 24380, 9000, 13548], "c_ram_bytes": [None, 5728, 5720, 5720],
        "c_instructions_per_inference": [None, 1.85e6, 1.97e6, 1.95e6],
        "weight_bits": [None, "8/8/8/8", "4/4/4/4", "8/4/4/2"]})
    summary = ordered_summary(summary)
    assert accuracy_vs_flash(summary).startswith(PNG_MAGIC)
    recommendations = {target.target: target for target in recommend_targets(summary, 0.1)}
    tflm = recommendations["Microcontroller, TensorFlow Lite Micro"]
    assert tflm.variant == "mixed_qat" and any("unpack each packed INT4 filter" in reason for reason in tflm.reasons)
    assert recommendations["Microcontroller, generated C (`--target c`)"].variant == "mixed_qat"
    summary.loc["int4_qat", ["accuracy", "delta_pp", "tflm_accuracy"]] = [0.995, 0.0, 0.995]
    recommendations = {target.target: target.variant for target in recommend_targets(summary, 0.1)}
    assert recommendations["Microcontroller, generated C (`--target c`)"] == "int4_qat"  # 9,000 B of C flash
