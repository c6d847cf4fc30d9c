"""`digitedge predict`: real MNIST digits drawn the way a person would, a tiny trained run, the CLI's errors."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitedge import cli
from digitedge.errors import DigitedgeError

pytestmark = pytest.mark.mnist
DEPLOYED = "int8_ptq"  # the tiny run has no QAT model, so it deploys its post-training int8 variant


def build_tiny_run(tmp_path_factory) -> str:
    """A real run (trained 1 epoch on 4,000 images, converted) shared by every test file of a session."""
    root = tmp_path_factory.getbasetemp() / "tiny_run"
    if (root / "tflite" / f"{DEPLOYED}.tflite").is_file():
        return str(root)
    from digitedge import config as config_module
    from digitedge.pipeline import Context, run_stage
    from digitedge.rundir import RunDir

    config = config_module.load(None, {"train.epochs": 1, "train.train_subset": 4000, "train.augment": False,
                                       "train.batch_size": 64, "export.representative_samples": 50,
                                       "export.variant": DEPLOYED})
    context = Context(RunDir(root), config, echo=lambda line: None)
    run_stage(context, "train")
    run_stage(context, "convert")
    return str(root)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory)


def as_handwriting(digit: np.ndarray, size: int, canvas: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    """An MNIST digit as dark ink on white paper, scaled to `size` px and placed off-centre on a larger page."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC))
    page = np.full(canvas, 255, np.uint8)
    page[at[0]:at[0] + size, at[1]:at[1] + size] = 255 - big
    return page


def run_cli(monkeypatch, capsys, *args):
    """digitedge.cli.main as the shell runs it: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["digitedge", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def digit_files(tmp_path, mnist):
    """Five real test digits saved as a user would have them: PNG, JPEG, BMP, .npy; various sizes, either polarity."""
    images = mnist.x_test[:5]
    files = []
    for index, (digit, suffix) in enumerate(zip(images, [".png", ".jpg", ".bmp", ".png", ".npy"])):
        path = tmp_path / f"digit{index}{suffix}"
        page = as_handwriting(digit, 60 + 30 * index, (260, 300), (15 + 10 * index, 40 + 20 * index))
        if suffix == ".npy":
            np.save(path, page.astype(np.float32) / 255.0)
        else:
            Image.fromarray(255 - page if index == 3 else page).save(path)  # digit3: white ink on black
        files.append(path)
    return files, mnist.y_test[:5]


def test_predict_prints_the_deployed_models_answer_computed_on_tflite_micro(tiny_run, digit_files, monkeypatch,
                                                                             capsys, tmp_path):
    from digitedge.runtime.tflm import run_tflm
    from digitedge.prepare import prepare_file

    files, _ = digit_files
    code, out, err = run_cli(monkeypatch, capsys, "predict", *map(str, files), "--run", tiny_run,
                             "--save-prepared", str(tmp_path / "seen"))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert f"({DEPLOYED} (TFLM))" in lines[0] and len(lines) == 1 + len(files)
    model = (Path(tiny_run) / "tflite" / f"{DEPLOYED}.tflite").read_bytes()
    for path, line in zip(files, lines[1:]):
        prepared = prepare_file(path)
        saved = np.asarray(Image.open(tmp_path / "seen" / f"{path.stem}.png"))
        np.testing.assert_array_equal(saved, prepared)  # --save-prepared holds exactly what the model saw
        expected = int(np.argmax(run_tflm(model, prepared[None, ..., None] / 255.0, label=DEPLOYED)[0]))
        fields = line.split()
        assert fields[0] == str(path) and int(fields[1]) == expected
        assert fields[2].endswith("%") and fields[3] == str(expected)  # top 3 starts with the predicted digit


def test_all_variants_json_has_every_variant_and_tflm(tiny_run, digit_files, monkeypatch, capsys):
    files, labels = digit_files
    code, out, err = run_cli(monkeypatch, capsys, "predict", str(files[0].parent), "--run", tiny_run,
                             "--all-variants", "--json")
    assert code == 0, err
    results = json.loads(out)
    variants = sorted(p.stem for p in (Path(tiny_run) / "tflite").glob("*.tflite"))
    assert [r["image"] for r in results] == sorted(map(str, files))
    for result in results:
        assert set(result["predictions"]) == {*variants, f"{DEPLOYED} (TFLM)"}
        for prediction in result["predictions"].values():
            assert len(prediction["scores"]) == 10 and prediction["digit"] == int(np.argmax(prediction["scores"]))
            assert [t["digit"] for t in prediction["top"]][0] == prediction["digit"] and prediction["latency_us"] > 0
    by_name = {r["image"]: r for r in results}
    float_right = [by_name[str(f)]["predictions"]["float32"]["digit"] == label for f, label in zip(files, labels)]
    assert sum(float_right) >= 4, float_right  # a trained model reads prepared real digits


def test_all_variants_table_has_a_column_per_variant(tiny_run, digit_files, monkeypatch, capsys):
    files, _ = digit_files
    code, out, _ = run_cli(monkeypatch, capsys, "predict", str(files[0]), "--run", tiny_run, "--all-variants")
    header, row = out.strip().splitlines()
    assert header.split()[1] == "float32" and header.endswith("agree") and row.split()[-1] in ("yes", "NO")


def test_model_option_takes_any_tflite(tiny_run, digit_files, monkeypatch, capsys):
    files, _ = digit_files
    model = f"{tiny_run}/tflite/float32.tflite"
    code, out, err = run_cli(monkeypatch, capsys, "predict", str(files[2]), "--model", model, "--json")
    assert code == 0, err
    assert list(json.loads(out)[0]["predictions"]) == ["float32.tflite"]


@pytest.mark.parametrize("case", ["blank", "not_an_image", "truncated_png", "empty_folder", "missing",
                                  "bad_npy_shape", "unknown_variant", "model_and_variant", "not_a_run"])
def test_bad_input_is_one_line_error_exit_1(case, tiny_run, digit_files, tmp_path, monkeypatch, capsys):
    files, _ = digit_files
    target = tmp_path / "input"
    args = ["--run", tiny_run]
    if case == "blank":
        target = tmp_path / "blank.png"
        Image.new("L", (64, 48), 230).save(target)
    elif case == "not_an_image":
        target = tmp_path / "notes.png"
        target.write_text("this is not a picture")
    elif case == "truncated_png":
        target = tmp_path / "cut.png"
        target.write_bytes(files[0].read_bytes()[:60])
    elif case == "empty_folder":
        target.mkdir()
        (target / "readme.txt").write_text("no images here")
    elif case == "bad_npy_shape":
        target = tmp_path / "cube.npy"
        np.save(target, np.ones((2, 3, 4, 5)))
    elif case == "unknown_variant":
        target, args = files[0], args + ["--variant", "int3"]
    elif case == "model_and_variant":
        target, args = files[0], args + ["--model", f"{tiny_run}/tflite/float32.tflite", "--variant", "float32"]
    elif case == "not_a_run":
        target, args = files[0], ["--run", str(tmp_path)]
    code, out, err = run_cli(monkeypatch, capsys, "predict", str(target), *args)
    assert code == 1
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    named = {"unknown_variant": "int3", "model_and_variant": "--model", "not_a_run": str(tmp_path)}
    assert named.get(case, str(target)) in err


def test_library_error_names_the_blank_image():
    from digitedge.prepare import prepare_digit

    with pytest.raises(DigitedgeError, match="scan.png has no ink"):
        prepare_digit(np.full((30, 40), 0.5, np.float32), "scan.png")
