"""MNIST-style preparation: real test digits moved, scaled, inverted and saved come back as MNIST made them."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitedge.errors import DigitedgeError
from digitedge.prepare import BOX, decode_image, image_files, load_image, prepare_digit
from test_predict import tiny_run  # noqa: F401 (the shared trained run fixture)

COUNT = 60  # real test digits per transform


def ink_box(image: np.ndarray, level: int = 64) -> np.ndarray:
    """(top, bottom, left, right) of the pixels brighter than `level`."""
    rows, cols = np.flatnonzero((image > level).any(1)), np.flatnonzero((image > level).any(0))
    return np.array([rows[0], rows[-1], cols[0], cols[-1]])


def page(digit: np.ndarray, size: int, shape=(240, 320), at=(30, 150), dark_ink=True) -> np.ndarray:
    """A 28x28 digit scaled to size x size and placed off-centre on a page, as [0, 1] grayscale."""
    big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255
    sheet = np.zeros(shape, np.float32)
    sheet[at[0]:at[0] + size, at[1]:at[1] + size] = big
    return 1.0 - sheet if dark_ink else sheet


TRANSFORMS = {
    "enlarged_off_centre_dark_on_light": lambda d: page(d, 112),
    "small_in_corner_white_on_black": lambda d: page(d, 40, shape=(180, 180), at=(130, 5), dark_ink=False),
    "grey_paper_grey_ink_with_noise": lambda d: np.clip(
        0.75 - 0.45 * (1 - page(d, 84, at=(100, 20))) + np.random.default_rng(0).normal(0, 0.02, (240, 320)), 0, 1),
    "same_size_shifted": lambda d: page(d, 28, shape=(40, 40), at=(9, 2), dark_ink=False),
    "speckled_paper": lambda d: np.where(np.random.default_rng(1).random((240, 320)) < 0.002, 0.2, page(d, 100)),
}


@pytest.mark.mnist
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_transformed_real_digits_come_back_as_mnist_made_them(transform, mnist, tiny_run):
    from digitedge.evaluate import tflite_probabilities

    digits = mnist.x_test[:COUNT]
    prepared = np.stack([prepare_digit(TRANSFORMS[transform](d)) for d in digits])
    assert prepared.dtype == np.uint8 and prepared.shape == (COUNT, 28, 28)
    for original, back in zip(digits, prepared):
        original_com = np.array(ndimage.center_of_mass(original.astype(float)))
        assert np.abs(np.array(ndimage.center_of_mass(back.astype(float))) - original_com).max() <= 1.5
        assert np.abs(ink_box(back) - ink_box(original)).max() <= 2  # within a few pixels
    model = open(f"{tiny_run}/tflite/float32.tflite", "rb").read()
    as_prepared, as_original = tflite_probabilities(model, prepared).argmax(1), tflite_probabilities(model, digits).argmax(1)
    labels = mnist.y_test[:COUNT]
    # the tiny 1-epoch model flips a few borderline digits on any small change; most must agree, none may get worse
    assert (as_prepared == as_original).mean() >= 0.9, f"{transform}: {(as_prepared == as_original).mean():.0%} agree"
    assert (as_prepared == labels).mean() >= (as_original == labels).mean() - 0.05


def test_polarity_and_aspect_ratio(mnist):
    digit = mnist.x_test[2]  # a "1": tall and thin
    dark, light = prepare_digit(page(digit, 90)), prepare_digit(page(digit, 90, dark_ink=False))
    np.testing.assert_array_equal(dark, light)
    top, bottom, left, right = ink_box(dark, 0)
    assert bottom - top + 1 == BOX and right - left + 1 < BOX / 2  # the long side fits 20, the short side is kept thin


def test_a_transparent_canvas_drawing_is_read_from_its_alpha(tmp_path):
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[20:80, 45:55] = (0, 0, 0, 255)  # a black bar on a fully transparent background
    path = tmp_path / "bar.png"
    Image.fromarray(rgba).save(path)
    prepared = prepare_digit(load_image(path))
    top, bottom, left, right = ink_box(prepared)
    assert bottom - top + 1 == BOX and prepared.max() == 255


def test_every_format_loads_the_same_pixels(tmp_path, mnist):
    sheet = page(mnist.x_test[0], 70)
    expected = np.round(sheet * 255).astype(np.uint8)
    for suffix in (".png", ".bmp"):
        Image.fromarray(expected).save(tmp_path / f"d{suffix}")
        np.testing.assert_allclose(load_image(tmp_path / f"d{suffix}"), expected / 255.0, atol=1e-6)
    Image.fromarray(expected).convert("RGB").save(tmp_path / "d.jpg", quality=95)
    assert np.abs(load_image(tmp_path / "d.jpg") - expected / 255.0).mean() < 0.01
    for array in (expected, sheet, expected[..., None], np.stack([expected] * 3, -1)):
        np.save(tmp_path / "d.npy", array)
        np.testing.assert_allclose(load_image(tmp_path / "d.npy"), expected / 255.0, atol=1e-6)
    assert sorted(p.name for p in image_files([tmp_path])) == ["d.bmp", "d.jpg", "d.npy", "d.png"]


@pytest.mark.parametrize("gray", [np.zeros((28, 28)), np.ones((300, 200)), np.full((50, 50), 0.4)])
def test_a_blank_image_has_no_ink(gray):
    with pytest.raises(DigitedgeError, match="photo.jpg has no ink"):
        prepare_digit(gray.astype(np.float32), "photo.jpg")


@pytest.mark.parametrize("data, message", [
    (b"", "not a readable"),
    (b"GIF89a" + bytes(20), "not a readable"),
    (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a readable"),
    (b"\x93NUMPY" + bytes(20), "not a readable .npy"),
])
def test_undecodable_bytes_are_one_line_errors(data, message):
    with pytest.raises(DigitedgeError, match=message) as error:
        decode_image(data, "upload.png")
    assert "upload.png" in str(error.value) and "\n" not in str(error.value)


def test_oversized_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (8000, 6000)).save(path)  # 48 megapixels of one colour: a small file
    with pytest.raises(DigitedgeError, match="huge.png is 8000x6000 pixels"):
        load_image(path)


def test_missing_and_empty_inputs_are_named(tmp_path):
    with pytest.raises(DigitedgeError, match="nothere.png does not exist"):
        image_files([tmp_path / "nothere.png"])
    with pytest.raises(DigitedgeError, match=f"folder {tmp_path} holds no images"):
        image_files([tmp_path])
