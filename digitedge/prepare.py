"""Turn a person's digit (a photo, a scan, a canvas drawing) into what MNIST looks like.

MNIST digits are white ink on black, scaled so the ink fits a 20x20 box (keeping its aspect
ratio, anti-aliased), then placed in a 28x28 field so the ink's centre of mass sits at the
field's centre. A model trained on MNIST only sees digits like that, so every image is
prepared the same way before it reaches a model: `predict` and `serve` both call `prepare_digit`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from digitedge.errors import DigitedgeError

SIZE = 28  # MNIST's field
BOX = 20  # the ink's bounding box is scaled to fit this
CENTER = (14.0, 14.0)  # where MNIST's centres of mass sit (mean over its test set: 13.99, 14.00)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".npy")
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty; larger is refused before decoding
MIN_CONTRAST = 0.10  # ink must differ from the paper by 10% of the full range, else it is blank
NOISE_FLOOR = 0.10  # after normalizing, ink weaker than this is paper texture or sensor noise
STROKE_LEVEL = 0.3  # pixels this strong are certainly ink: they decide where the strokes are
SPECK_FRACTION = 0.03  # a blob under 3% of the largest stroke's area is dust or noise, not part of the digit
EDGE_PIXELS = 2  # weaker pixels this close to a stroke are its anti-aliased edge
BORDER = 0.05  # the outer 5% of each side estimates the paper (background) level


def image_files(paths: list[str | Path]) -> list[Path]:
    """The image files named by `paths`, folders expanded to the images they hold (sorted)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DigitedgeError(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DigitedgeError(f"image {path} does not exist")
    return files


def load_image(path: str | Path) -> np.ndarray:
    """A PNG, JPEG, BMP or .npy file as grayscale intensities in [0, 1] (H, W), either polarity."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DigitedgeError(f"image {path} cannot be read: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".npy":
        return _array_grayscale(_load_npy(data, str(path)), str(path))
    return decode_image(data, str(path))


def decode_image(data: bytes, label: str = "image") -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, BMP, or a .npy array) as grayscale in [0, 1] (H, W)."""
    if data[:6] == b"\x93NUMPY":
        return _array_grayscale(_load_npy(data, label), label)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DigitedgeError(f"{label} is {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels")
            image = ImageOps.exif_transpose(image)  # a phone photo's pixels may be stored rotated
            return _pil_grayscale(image, label)
    except DigitedgeError:
        raise
    except UnidentifiedImageError:
        raise DigitedgeError(f"{label} is not a readable PNG, JPEG, BMP or .npy image (unknown format)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DigitedgeError(f"{label} is not a readable PNG, JPEG, BMP or .npy image ({reason})") from None


def _load_npy(data: bytes, label: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DigitedgeError(f"{label} is not a readable .npy array ({str(exc).splitlines()[0]})") from None
    if not isinstance(array, np.ndarray):
        raise DigitedgeError(f"{label} holds several arrays; expected one image array")
    return array


def _pil_grayscale(image: Image.Image, label: str) -> np.ndarray:
    """Pillow image -> [0, 1] grayscale; a drawing on a transparent background is its alpha."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        if alpha.min() < 1.0:  # strokes on a transparent canvas: opacity is the ink
            return alpha
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _array_grayscale(np.asarray(image), label)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _array_grayscale(array: np.ndarray, label: str) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) numbers -> [0, 1] grayscale (H, W)."""
    if array.dtype.kind not in "uifb":
        raise DigitedgeError(f"{label} holds {array.dtype} values; expected numbers")
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., 0] if array.shape[-1] == 1 else array[..., :3] @ np.array([0.299, 0.587, 0.114])
    if array.ndim != 2 or min(array.shape) < 1:
        raise DigitedgeError(f"{label} has shape {array.shape}; expected a 2-D image (H, W) or (H, W, channels)")
    if array.size > MAX_PIXELS:
        raise DigitedgeError(f"{label} has {array.size:,} pixels; the limit is {MAX_PIXELS:,}")
    values = np.asarray(array, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise DigitedgeError(f"{label} contains NaN or infinite values")
    if array.dtype.kind in "ui" and array.dtype.itemsize > 1:
        full_range = 65535.0 if values.max() > 255 else 255.0
    elif array.dtype.kind == "f" and values.min() >= 0 and values.max() <= 1:
        full_range = 1.0  # floats already in [0, 1], like the models' own input
    else:
        full_range = 1.0 if array.dtype == bool else 255.0
    return np.clip(values / full_range, 0.0, 1.0)


def ink_intensity(gray: np.ndarray, label: str = "image") -> np.ndarray:
    """Grayscale of either polarity -> ink in [0, 1] on a 0 background (white on black, as MNIST).

    The paper is whatever fills the border; ink darker than it (pen on paper) is inverted.
    """
    height, width = gray.shape
    ring_h, ring_w = max(1, round(height * BORDER)), max(1, round(width * BORDER))
    border = np.concatenate([gray[:ring_h].ravel(), gray[-ring_h:].ravel(),
                             gray[:, :ring_w].ravel(), gray[:, -ring_w:].ravel()])
    paper = float(np.median(border))
    dark_ink = paper - float(gray.min()) > float(gray.max()) - paper
    ink = paper - gray if dark_ink else gray - paper
    peak = float(np.percentile(ink, 99.9)) if ink.size > 1000 else float(ink.max())  # ignores a few hot pixels
    if peak < MIN_CONTRAST:
        raise DigitedgeError(f"{label} has no ink: nothing differs from the background by {MIN_CONTRAST:.0%} or more")
    ink = np.clip(ink / peak, 0.0, 1.0)
    strokes = ink >= STROKE_LEVEL
    labels, count = ndimage.label(strokes)
    sizes = ndimage.sum(strokes, labels, np.arange(1, count + 1))
    kept = np.isin(labels, 1 + np.flatnonzero(sizes >= SPECK_FRACTION * sizes.max()))
    # keep the strokes' anti-aliased edges, drop specks and paper texture away from them
    ink[~ndimage.binary_dilation(kept, iterations=EDGE_PIXELS) | (ink < NOISE_FLOOR)] = 0.0
    return ink


def prepare_digit(gray: np.ndarray, label: str = "image") -> np.ndarray:
    """Any-size grayscale digit (H, W) in [0, 1], either polarity -> MNIST-style uint8 (28, 28)."""
    ink = ink_intensity(np.asarray(gray, dtype=np.float32), label)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # crop to the ink
    height, width = ink.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    # Pillow's "F" mode resizes the float intensities with antialiasing, as MNIST's normalization did
    resized = np.asarray(Image.fromarray(ink).resize((new_width, new_height), Image.Resampling.LANCZOS))
    resized = np.clip(resized, 0.0, 1.0)
    center_y, center_x = ndimage.center_of_mass(resized)
    # place the box so its centre of mass lands on MNIST's, as far as the field allows (no ink is cut)
    top = int(np.clip(round(CENTER[0] - center_y), 0, SIZE - new_height))
    left = int(np.clip(round(CENTER[1] - center_x), 0, SIZE - new_width))
    field = np.zeros((SIZE, SIZE), dtype=np.float32)
    field[top:top + new_height, left:left + new_width] = resized
    return np.round(field * 255.0).astype(np.uint8)


def prepare_file(path: str | Path) -> np.ndarray:
    return prepare_digit(load_image(path), str(path))


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (28, 28) image as PNG bytes (for --save-prepared and the web page)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
