"""The microcontroller profile: per-layer MACs/params/bytes from the tensors, measured RAM, labelled estimates."""

from __future__ import annotations

import pytest

from digitedge.micro import find_arena_size, profile_model
from digitedge.micro.profile import TARGETS
from micro_fixtures import tiny_tflite


@pytest.fixture(scope="module")
def profile():
    return profile_model(tiny_tflite("int8_ptq"), "tiny.tflite")


def test_layers_count_macs_params_and_bytes(profile):
    layers = profile.layers.set_index("op")
    conv, dense = layers.loc["CONV_2D"], layers.loc["FULLY_CONNECTED"]
    assert conv.output_shape == "1x26x26x4"
    assert conv.macs == 26 * 26 * 4 * 3 * 3 * 1
    assert conv.params == 4 * 3 * 3 * 1 + 4  # weights + bias
    assert conv.activation_bytes == 28 * 28 + 26 * 26 * 4  # int8 input + output
    assert dense.macs == 13 * 13 * 4 * 10
    assert layers.loc["RESHAPE"].params == 0  # its shape argument is not a parameter
    assert layers.loc["MAX_POOL_2D"].macs == 0


def test_totals_are_measured_from_the_artifact(profile):
    arena = find_arena_size(tiny_tflite("int8_ptq"))
    assert profile.totals["flash_bytes"] == len(tiny_tflite("int8_ptq"))
    assert profile.totals["ram_bytes"] == arena.minimum_bytes
    assert profile.totals["arena_bytes"] == arena.arena_bytes
    assert profile.totals["macs"] == profile.layers["macs"].sum()


def test_latency_is_an_estimate_with_its_basis(profile):
    for target, row in zip(TARGETS, profile.latency.itertuples()):
        assert row.estimated_ms == pytest.approx(profile.totals["macs"] * target.cycles_per_mac / target.clock_hz * 1e3)
        assert target.basis in profile.text
    assert "ESTIMATES" in profile.text and "not measured on hardware" in profile.text


def test_model_tflm_refuses_has_no_ram_figure_and_says_why():
    refused = profile_model(tiny_tflite("dynamic_range"), "dr.tflite")
    assert refused.totals["ram_bytes"] is None
    assert "not supported" in refused.totals["tflm_refusal"]
    assert "RAM: not measured: op " in refused.text
