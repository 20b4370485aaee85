"""Which ids are real people, and whether the people form a group performing together.

Pass 1 gives an id to every track the tracker confirmed; some never were a person (a bag, a
reflection, a poster the pose model believed for a few frames). :func:`real_ids` keeps the ids
that look like a body for long enough; the rest are dropped from ``poses.jsonl`` before anything
else reads it.

Synchronisation only means something for people performing *together*: in view at the same time
for most of the clip, and staying in their place rather than passing through (pedestrians in a
street are several people, not a group). :func:`group_verdict` says which, and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgepose.analyze.export import PoseLog

MIN_SECONDS = 0.5         # an id shorter than this (and than 10 % of the clip) never became a person
EDGE_SECONDS = 0.1        # ... or than this when the clip's first or last frames cut the id short
EDGE_MIN_FRAMES = 3       # (and at least this many frames: the tracker's own min_hits)
EDGE_DENSITY = 0.8        # share of the frames of its stretch such an id must be seen in
MIN_VISIBILITY = 0.55     # median body visibility of a person (bags, reflections: ~0.5; people 0.85-0.97)
TOGETHER = 0.5            # share of the performers' frames in which most of them are in view
QUORUM = 0.75             # "most": this share of the performers (all of two or three; 9 of 12)
PASSING_HEIGHTS = 3.0     # a performer whose hips travel over this many body heights passes through


def _body_vis(seq) -> np.ndarray:
    k = seq.keypoints
    return (k[:, 11:29, 2] if seq.layout == "blazepose33" else k[:, 5:, 2]).mean(axis=1)


def real_ids(plog: PoseLog) -> list[int]:
    """Ids seen long enough (``MIN_SECONDS``, or a tenth of a shorter clip: a one-frame clip keeps
    its one-frame people) with a body the model sees (median body visibility >= ``MIN_VISIBILITY``).

    An id the clip itself cuts short -- seen until its last few frames or from its first few
    (as many as the id needs), in nearly every frame of its stretch (``EDGE_DENSITY``) -- needs
    only ``EDGE_SECONDS`` (and ``EDGE_MIN_FRAMES``): a person who comes out from behind another
    in the last frames is as real as one seen for a second, and the clip gave no more."""
    rate = plog.rate
    need = max(1, min(int(round(MIN_SECONDS * rate)), int(np.ceil(0.1 * plog.frame_count))))
    edge_need = min(need, max(EDGE_MIN_FRAMES, int(round(EDGE_SECONDS * rate))))
    last = plog.frame_count - 1

    def long_enough(s) -> bool:
        if len(s) >= need:
            return True
        first_f, last_f = int(s.frames[0]), int(s.frames[-1])
        at_edge = first_f <= edge_need - 1 or last_f >= last - edge_need
        return at_edge and len(s) >= edge_need and len(s) >= EDGE_DENSITY * (last_f - first_f + 1)

    return sorted(i for i, s in plog.sequences.items()
                  if long_enough(s) and float(np.median(_body_vis(s))) >= MIN_VISIBILITY)


@dataclass(frozen=True)
class GroupVerdict:
    """Whether the performers are a group performing together, and the figures behind it."""

    together: bool
    reason: str
    copresence: float                 # share of frames with any performer in which most are in view
    travelled: dict[int, float]       # id -> hip travel in body heights (95th - 5th percentile range)


def _travel(seq) -> float:
    k = seq.keypoints
    hips = (k[:, 23, :2] + k[:, 24, :2]) / 2 if seq.layout == "blazepose33" else (k[:, 11, :2] + k[:, 12, :2]) / 2
    ys = k[:, :, 1]
    height = float(np.median(ys.max(axis=1) - ys.min(axis=1)))
    if height <= 1 or len(hips) < 2:
        return 0.0
    span = np.percentile(hips, 95, axis=0) - np.percentile(hips, 5, axis=0)
    return float(np.hypot(*span) / height)


def group_verdict(plog: PoseLog, performers: list[int]) -> GroupVerdict:
    """Performers in view together for most of their time, and staying in place: a group.

    "Together" counts the frames in which at least :data:`QUORUM` of the performers are in view
    (all of two or three): in a line of twelve dancers someone is hidden behind a neighbour or
    between two ids in most frames, and the group is no less a group for it; pedestrians, each
    in view for a stretch of their own, rarely make the quorum."""
    if len(performers) < 2:
        return GroupVerdict(False, "fewer than two performers", 0.0, {})
    frames = [set(int(f) for f in plog.sequences[i].frames) for i in performers]
    any_ = set().union(*frames)
    quorum = max(2, math.ceil(QUORUM * len(performers) - 1e-9))
    in_view = {f: 0 for f in any_}
    for fs in frames:
        for f in fs:
            in_view[f] += 1
    co = sum(n >= quorum for n in in_view.values()) / max(1, len(any_))
    travelled = {i: round(_travel(plog.sequences[i]), 2) for i in performers}
    passing = [i for i, t in travelled.items() if t > PASSING_HEIGHTS]
    if co < TOGETHER:
        most = "the people are" if quorum == len(performers) else f"{quorum} of the {len(performers)} people are"
        return GroupVerdict(False, f"{most} in view together in only {co:.0%} of the frames", co, travelled)
    if len(passing) * 2 > len(performers):
        return GroupVerdict(False, f"{len(passing)} of {len(performers)} people pass through the view "
                                   f"(hips travel over {PASSING_HEIGHTS:g} body heights)", co, travelled)
    return GroupVerdict(True, "in view together and in place", co, travelled)


def drop_ids(path, keep: set[int]) -> int:
    """Rewrite a ``poses.jsonl`` without the poses whose id is not in ``keep`` (every frame line
    stays); returns how many poses were dropped. Written to a side file first, then moved."""
    import json
    import os
    from pathlib import Path

    path = Path(path)
    part = path.with_name(path.name + ".part")
    dropped = 0
    with open(path) as src, open(part, "w") as dst:
        for line in src:
            if not line.strip():
                continue
            row = json.loads(line)
            poses = row.get("poses") or []
            kept = [p for p in poses if p.get("id") in keep]
            dropped += len(poses) - len(kept)
            row["poses"] = kept
            dst.write(json.dumps(row, separators=(",", ":")) + "\n")
    os.replace(part, path)
    return dropped
