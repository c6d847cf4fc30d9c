"""Where every activation tensor lives: offsets in one static arena, reused once a tensor is dead.

Like TFLM's greedy planner, tensors whose lifetimes overlap never share bytes. Two things TFLM
does not do save RAM here: RESHAPE output is its input (same bytes, no copy), and a pooling layer
whose every output element precedes all the input elements it reads writes over its own input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from digitedge.cgen.layers import Graph, Pool, Reshape

ALIGNMENT = 4  # word loads in the dot products


@dataclass(frozen=True)
class ArenaPlan:
    offsets: dict[int, int]  # tensor index -> byte offset in the arena (model input/output excluded)
    arena_bytes: int
    in_place: frozenset[int]  # layer indices that overwrite their own input
    scratch: dict[int, int] = field(default_factory=dict)  # layer index -> offset of its working buffer
    scratch_bytes: dict[int, int] = field(default_factory=dict)  # layer index -> its size


@dataclass
class _Segment:
    """Bytes [offset, offset + size) busy from layer `first` to layer `last` (inclusive)."""

    size: int
    first: int
    last: int
    tensors: list[int] = field(default_factory=list)


def pool_in_place_safe(layer: Pool) -> bool:
    """Each output index must not exceed the smallest input index it reads (outputs are written in order)."""
    (_, in_w, _), (out_h, out_w, _) = layer.in_shape, layer.out_shape
    for out_y in range(out_h):
        first_y = max(0, out_y * layer.stride[0] - layer.padding[0])
        for out_x in range(out_w):
            first_x = max(0, out_x * layer.stride[1] - layer.padding[1])
            if (first_y * in_w + first_x) < (out_y * out_w + out_x):
                return False
    return True


def plan_arena(graph: Graph, scratch_bytes: dict[int, int] | None = None) -> ArenaPlan:
    """Offsets for every activation and every layer's scratch buffer (`scratch_bytes`: layer index
    -> bytes, live during that layer only); an in-place chain of segments shares one offset.

    Largest first, each where it grows the arena least, trying low-first and high-first tie-breaks
    (the high one lets a layer's output sit at the far end from its input, ping-pong style).
    """
    last_read = {layer.input: index for index, layer in enumerate(graph.layers)}
    segment_of: dict[int, _Segment] = {}
    chains: list[list[_Segment]] = []
    chain_of: dict[int, list[_Segment]] = {}
    in_place = set()
    for index, layer in enumerate(graph.layers):
        source = segment_of.get(layer.input)
        if source is not None:
            source.last = max(source.last, index)
        if layer.output == graph.output:
            continue
        if isinstance(layer, Reshape) and source is not None:
            source.tensors.append(layer.output)
            segment_of[layer.output] = source
            continue
        segment = _Segment(graph.size(layer.output), index, index, [layer.output])
        segment_of[layer.output] = segment
        if isinstance(layer, Pool) and source is not None and last_read[layer.input] == index \
                and all(last_read.get(t, -1) <= index for t in source.tensors) and pool_in_place_safe(layer):
            chain = chain_of[id(source)]
            in_place.add(index)
        else:
            chain = []
            chains.append(chain)
        chain.append(segment)
        chain_of[id(segment)] = chain
    for segment in {id(s): s for s in segment_of.values()}.values():  # lifetimes end at the last reader
        segment.last = max([segment.last, *(last_read.get(t, -1) for t in segment.tensors)])
    for index, size in (scratch_bytes or {}).items():  # scratch keys: -1 - layer index
        chains.append([_Segment(_align(size), index, index, [-1 - index])])

    placed = min((_place(chains, prefer_high) for prefer_high in (False, True)), key=_extent)
    offsets = {tensor: offset for offset, segment in placed for tensor in segment.tensors if tensor >= 0}
    scratch = {-1 - key: offset for offset, segment in placed for key in segment.tensors if key < 0}
    arena_bytes = _align(_extent(placed))
    return ArenaPlan(offsets, arena_bytes, frozenset(in_place), scratch,
                     {index: _align(size) for index, size in (scratch_bytes or {}).items()})


def _place(chains: list[list[_Segment]], prefer_high: bool) -> list[tuple[int, _Segment]]:
    """Largest chain first, at the offset that grows the arena least; ties go to the lowest or highest offset."""
    placed: list[tuple[int, _Segment]] = []
    for chain in sorted(chains, key=lambda c: (-max(s.size for s in c), c[0].first)):
        live = [(offset, other) for offset, other in placed
                if any(s.first <= other.last and other.first <= s.last for s in chain)]
        extent, size = _extent(placed), max(s.size for s in chain)
        candidates = {0, *(_align(o + other.size) for o, other in live),
                      *(_align_down(o - size) for o, _ in live), _align_down(extent - size)}

        def fits(candidate: int) -> bool:
            return candidate >= 0 and all(
                candidate >= offset + other.size or candidate + s.size <= offset
                for s in chain for offset, other in live if s.first <= other.last and other.first <= s.last)

        offset = min((c for c in candidates if fits(c)),
                     key=lambda c: (max(extent, c + size), -c if prefer_high else c))
        placed.extend((offset, segment) for segment in chain)
    return placed


def _extent(placed: list[tuple[int, _Segment]]) -> int:
    return max((offset + segment.size for offset, segment in placed), default=0)


def _align_down(offset: int) -> int:
    return offset // ALIGNMENT * ALIGNMENT


def _align(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT
