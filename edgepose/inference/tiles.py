"""Overlapping square tiles of a frame for the face-keyed detector: a person far from the camera
is too small for its 224-pixel view of the whole frame."""

from __future__ import annotations

TILE_LEVELS = (0.6, 0.35)
# Smallest tile side in pixels. 64 was tried (a tile is scaled up to the detector's 224 px): it
# found a 45-px person in a 240x135 clip, but over tools/reps_robustness.py's 76 variants its tiny
# tiles' false hits cost more than they found (59/76 counted right, against 62/76 with 96).
MIN_TILE = 96


def tile_regions(w: int, h: int, levels: tuple[float, ...] = TILE_LEVELS, overlap: float = 0.3
                 ) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles ``(x, y, w, h)`` at each level (side = level x the short side).

    The detector sees a whole frame at 224 px, so a person under about a fifth of the frame's
    height is too small for it; at the 0.35 level the same person fills three times as much of
    the detector's input. Measured on the shared annotated images: people recall 0.26 without
    tiles, 0.86 with the 0.6 level, 0.89 with both (docs/benchmarks.md).
    """
    out: list[tuple[int, int, int, int]] = []
    for frac in levels:
        out += _tiles_at(w, h, frac, overlap)
    return out


def _tiles_at(w: int, h: int, frac: float, overlap: float) -> list[tuple[int, int, int, int]]:
    side = int(round(frac * min(w, h)))
    if side < MIN_TILE:
        return []
    step = max(1, int(side * (1 - overlap)))
    return [(x, y, min(side, w - x), min(side, h - y))
            for y in _starts(h, side, step) for x in _starts(w, side, step)]


def _starts(length: int, side: int, step: int) -> list[int]:
    """Tile starts that cover ``length``; the last tile ends at the edge (moved, not added, when
    the remainder is a sliver)."""
    out = list(range(0, max(1, length - side) + 1, step))
    if out[-1] + side < length:
        if len(out) > 1 and length - side - out[-1] < step // 4:
            out[-1] = length - side
        else:
            out.append(length - side)
    return out
