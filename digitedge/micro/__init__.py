"""The microcontroller stage's work: a .tflite's smallest TFLite Micro arena, parity with LiteRT, a
profile, and the C sources (model array, op resolver, self-test digits) for firmware. The TFLM
interpreter itself (does it run a model, and why not) is digitedge.runtime's."""

from digitedge.micro.arena import ArenaSize, find_arena_size, with_margin
from digitedge.micro.header import header_files, sketch_files, write_header_files
from digitedge.micro.parity import Agreement, ParityResult, compare_tflm_litert
from digitedge.micro.profile import Profile, profile_model
from digitedge.micro.resolver import RESOLVER_METHODS, resolver_methods

__all__ = [
    "Agreement", "ArenaSize", "ParityResult", "Profile", "RESOLVER_METHODS", "compare_tflm_litert", "find_arena_size",
    "header_files", "profile_model", "resolver_methods", "sketch_files", "with_margin", "write_header_files",
]
