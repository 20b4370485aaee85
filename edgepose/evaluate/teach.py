"""Teach mode: a clinician demonstrates a pose; its measures become a new target program.

Each measure's target range is the demonstration's mean plus or minus a tolerance taken from the
demonstration's own steadiness: ``tolerance = max(K_STD * std, floor)`` (the floor keeps a single
photo or a rock-steady hold from giving an impossibly tight target). Only measures seen well in
most samples are kept, and a measure that varied so much across the demonstration that its
tolerance would pass ``MAX_TOL_DEG`` / ``MAX_TOL_RATIO`` is left out: the demonstration shows it
does not define the pose (e.g. the arms in a goddess pose shown with different arm positions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgepose.evaluate.angles import ANGLE_MEASURES, Measure

K_STD = 2.5
FLOOR_DEG = 5.0
FLOOR_RATIO = 0.1
MAX_TOL_DEG = 45.0
MAX_TOL_RATIO = 1.0
MIN_CONF = 0.5
MIN_SEEN_SHARE = 0.8

TAUGHT = tuple(
    [f"{s}_{n}" for s in ("left", "right") for n in ("knee", "hip", "elbow", "shoulder", "thigh", "arm")]
    + ["trunk_lean", "stance_width"]
)

_PHRASES = {  # (below the range, above the range)
    "knee": ("Straighten your {side} knee a little", "Bend your {side} knee a little more"),
    "hip": ("Open your {side} hip, stand taller", "Fold a little more at your {side} hip"),
    "elbow": ("Straighten your {side} arm", "Bend your {side} elbow a little more"),
    "shoulder": ("Raise your {side} arm higher", "Lower your {side} arm a little"),
    "thigh": ("Move your {side} knee further out", "Bring your {side} knee back in"),
    "arm": ("Raise your {side} hand higher", "Lower your {side} hand a little"),
    "trunk_lean": ("Lean a little further", "Bring your trunk more upright"),
    "stance_width": ("Step your feet wider apart", "Bring your feet closer together"),
}


@dataclass(frozen=True)
class Taught:
    measure: str
    mean: float
    std: float
    tolerance: float
    lo: float
    hi: float
    samples: int
    cue_low: str
    cue_high: str


def _cues(measure: str) -> tuple[str, str]:
    if measure.startswith(("left_", "right_")):
        side, base = measure.split("_", 1)
        lo, hi = _PHRASES[base]
        return lo.format(side=side), hi.format(side=side)
    return _PHRASES[measure]


def learn(samples: list[dict[str, Measure]]) -> list[Taught]:
    """Targets from the measures of each demonstration sample (a photo or a frame)."""
    if not samples:
        raise ValueError("no demonstration sample had a person in it; show the whole body to the camera")
    out = []
    for m in TAUGHT:
        vals = [s[m].value for s in samples if m in s and s[m].conf >= MIN_CONF]
        if len(vals) < max(1, MIN_SEEN_SHARE * len(samples)):
            continue
        a = np.asarray(vals)
        mean, std = float(a.mean()), float(a.std())
        is_angle = m in ANGLE_MEASURES
        tol = max(K_STD * std, FLOOR_DEG if is_angle else FLOOR_RATIO)
        if tol > (MAX_TOL_DEG if is_angle else MAX_TOL_RATIO):
            continue
        lo_lim, hi_lim = (0.0, 180.0) if is_angle else (0.0, 10.0)
        lo, hi = max(lo_lim, mean - tol), min(hi_lim, mean + tol)
        cl, ch = _cues(m)
        out.append(Taught(m, mean, std, tol, lo, hi, len(vals), cl, ch))
    if not out:
        raise ValueError("no body measure was seen well enough in the demonstration; step back so the "
                         "whole body is in view and try again")
    return out


def to_toml(name: str, title: str, description: str, taught: list[Taught], sides: str, source: str) -> str:
    """The program file text for the taught targets."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"# Taught with `edgepose teach` from {source}.",
        f"# Ranges: demonstration mean +- max({K_STD} x std, {FLOOR_DEG:g} deg / {FLOOR_RATIO:g} torso lengths).",
        f"title = {q(title)}",
        'kind = "pose"',
        f"description = {q(description)}",
        f"sides = {q(sides)}",
        "",
    ]
    for t in taught:
        r = 1 if t.measure in ANGLE_MEASURES else 3
        lines += [
            "[[check]]",
            f"# mean {t.mean:.{r}f}, std {t.std:.{r}f} over {t.samples} samples",
            f"measure = {q(t.measure)}",
            f"range = [{t.lo:.{r}f}, {t.hi:.{r}f}]",
            f"margin = {t.tolerance:.{r}f}",
            f"cue_low = {q(t.cue_low)}",
            f"cue_high = {q(t.cue_high)}",
            "",
        ]
    return "\n".join(lines)
