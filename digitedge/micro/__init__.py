"""The microcontroller stage: proof a .tflite runs on TFLite Micro, its smallest arena, parity with
LiteRT, a profile, and the C sources (model array, op resolver, self-test digits) for firmware."""

from digitedge.micro.arena import ArenaSize, find_arena_size, with_margin
from digitedge.micro.header import header_files, sketch_files, write_header_files
from digitedge.micro.parity import Agreement, ParityResult, compare_tflm_litert
from digitedge.micro.profile import Profile, profile_model
from digitedge.micro.resolver import RESOLVER_METHODS, resolver_methods
from digitedge.micro.tflm import TflmError, TflmFailure, TflmSupport, run_tflm, tflm_support

__all__ = [
    "Agreement", "ArenaSize", "ParityResult", "Profile", "RESOLVER_METHODS", "TflmError", "TflmFailure",
    "TflmSupport", "compare_tflm_litert", "find_arena_size", "header_files", "profile_model", "resolver_methods",
    "run_tflm", "sketch_files", "tflm_support", "with_margin", "write_header_files",
]
