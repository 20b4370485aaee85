"""Poses of a fragment that belong to someone else, dropped before the joining.

Two ways a pass-1 track holds poses that are not its person's, both seen on vtest.avi:

* :func:`drop_drifted`: the crop that follows someone walking behind another slides onto the
  one in front, and the pose stands on the other's legs;
* :func:`drop_taken_over`: a new track starts on a person while the old one still holds a
  second estimate of them for a frame or two;
* :func:`drop_interleaved`: a track that lost its person coasts over one who has a track of
  their own and now and then takes a second estimate of them.

All take :class:`~edgepose.analyze.relink.Fragment` s (read only: ``frames``, ``pos``,
``scale``, ``obs``) and return ``id()`` of every :class:`~edgepose.analyze.relink.Obs` to drop;
:meth:`edgepose.analyze.relink.Linker.link` runs them first and rebuilds the fragments.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from edgepose.skeleton import COCO_INDEX, COCO_MIRROR

log = logging.getLogger(__name__)

_C = COCO_INDEX
MIN_VIS = 0.3          # as edgepose.analyze.relink: keypoints seen at least this much


class Fragment(Protocol):
    """What is read of an :class:`edgepose.analyze.relink.Fragment` (that module builds on this one)."""

    frames: np.ndarray         # (n,) frame numbers, sorted
    pos: np.ndarray            # (n, 2) torso centres
    scale: np.ndarray          # (n,) body heights
    obs: list                  # the poses (``relink.Obs``: ``kp`` (17, 3))
_LEGS = [_C[n] for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")]
_LEGS_MIRROR = [COCO_MIRROR[c] for c in _LEGS]


def _on_legs(a: np.ndarray, b: np.ndarray, height: float) -> bool:
    """Pose ``a`` stands on ``b``'s legs: the median distance of their knees and ankles (left
    and right possibly swapped) is under 0.15 of ``height``, every one of them seen."""
    if min(a[_LEGS, 2].min(), b[_LEGS, 2].min()) < MIN_VIS:
        return False
    d = min(float(np.median(np.linalg.norm(a[_LEGS, :2] - b[other, :2], axis=1))) for other in (_LEGS, _LEGS_MIRROR))
    return d < 0.15 * height


def drop_drifted(frags: list[Fragment], fps: float, size: float, window: float) -> set[int]:
    """Drop the poses of a track that drifted onto someone else.

    When a person walks behind another, the landmark model's crop that follows them can slide
    down onto the one in front: for a few frames the pose keeps the hidden person's head and
    shoulders but stands on the other's legs, a body suddenly far taller than the fragment
    itself was a second earlier. Such a pose ends (or starts) the fragment in the wrong place at
    the wrong size, so the hand-over to the person's next fragment looks impossible and the two
    are never joined; it is also a wrong pose. Of two poses of a frame that stand on the same
    legs (and are not one body, which :func:`drop_duplicates` handled), the one whose body
    height (``Fragment.scale``) is off its own fragment's median over ``window`` seconds by more
    than ``size`` (log ratio; ``LinkConfig.drift_size``), and more off than the other's, is
    dropped. Returns ``id()`` of every dropped ``Obs``."""
    if not np.isfinite(size):
        return set()
    half = max(1, int(round(window * fps / 2)))

    def off(f: Fragment, i: int) -> float:
        lo, hi = np.searchsorted(f.frames, [f.frames[i] - half, f.frames[i] + half + 1])
        return abs(float(np.log(f.scale[i] / np.median(f.scale[lo:hi]))))

    at: dict[int, list[tuple[Fragment, int]]] = {}
    for f in frags:
        for i, fr in enumerate(f.frames):
            at.setdefault(int(fr), []).append((f, i))
    dropped: set[int] = set()
    for here in at.values():
        for (fa, ia), (fb, ib) in ((x, y) for k, x in enumerate(here) for y in here[k + 1:]):
            a, b = fa.obs[ia].kp, fb.obs[ib].kp
            h = min(fa.scale[ia], fb.scale[ib])
            if not (_on_legs(a, b, h) or _on_legs(b, a, h)):
                continue
            oa, ob = off(fa, ia), off(fb, ib)
            worse, w = ((fa, ia), oa) if oa >= ob else ((fb, ib), ob)
            if w > size:
                dropped.add(id(worse[0].obs[worse[1]]))
    if dropped:
        log.debug("drift: %d poses standing on someone else's legs dropped", len(dropped))
    return dropped


def drop_taken_over(frags: list[Fragment], max_frames: int, max_dist: float) -> set[int]:
    """Drop the last poses of a fragment that a new fragment took over.

    Pass 1 may start a new track on a person while their old track still holds a second
    estimate of them for a frame or two (torso centres a seventh of a body height apart, which
    the one-pose-per-body test does not call one body) before it ends. The two fragments then
    co-exist in those frames, and fragments that co-exist are two people, so the person keeps
    two ids (on vtest.avi, the blonde woman's 19-149 and 148-363). When fragment ``y`` starts
    while ``x`` has at most ``max_frames`` frames left, every one of them shared with ``y`` and
    with the torso centres within ``max_dist`` of the larger body height
    (``LinkConfig.overlap_frames``, ``overlap_dist``), ``x``'s poses in those frames are dropped.
    Returns ``id()`` of the poses dropped."""
    dropped: set[int] = set()
    if max_frames <= 0:
        return dropped
    for x in frags:
        for y in frags:
            if y is x or not x.frames[0] < y.frames[0] <= x.frames[-1] < y.frames[-1]:
                continue
            tail = x.frames[x.frames >= y.frames[0]]
            shared = np.intersect1d(tail, y.frames)
            if len(tail) > max_frames or len(shared) != len(tail):
                continue
            ix, iy = np.searchsorted(x.frames, shared), np.searchsorted(y.frames, shared)
            d = np.linalg.norm(x.pos[ix] - y.pos[iy], axis=1) / np.maximum(x.scale[ix], y.scale[iy])
            if (d <= max_dist).all():
                dropped.update(id(x.obs[i]) for i in ix)
    if dropped:
        log.debug("taken over: %d last poses of fragments a new one started on dropped", len(dropped))
    return dropped


def drop_interleaved(frags: list[Fragment], max_dist: float, max_share: float = 0.5) -> set[int]:
    """Drop a fragment's poses that are sporadic second estimates of another fragment's person.

    Pass 1 may lose a person (behind a sign on vtest.avi) and start a new track on them when
    they come out, while the old track coasts on and now and then takes a pose of that body
    (4 poses in the new track's 17 frames), then takes the person back. The two fragments
    co-exist, so they could never be joined, and the person keeps two ids. Where two fragments
    share frames and, in every one of them, their torso centres are within ``max_dist`` of the
    larger body height (``LinkConfig.overlap_dist``), and over the span of the shared frames one
    of them is in at most ``max_share`` of the frames the other is, the sparse one's poses in the
    shared frames are dropped. Returns ``id()`` of the poses dropped."""
    dropped: set[int] = set()
    for i, x in enumerate(frags):
        for y in frags[i + 1:]:
            shared = np.intersect1d(x.frames, y.frames)
            if not len(shared):
                continue
            ix, iy = np.searchsorted(x.frames, shared), np.searchsorted(y.frames, shared)
            d = np.linalg.norm(x.pos[ix] - y.pos[iy], axis=1) / np.maximum(x.scale[ix], y.scale[iy])
            if not (d <= max_dist).all():
                continue
            lo, hi = shared[0], shared[-1]
            nx = int(((x.frames >= lo) & (x.frames <= hi)).sum())
            ny = int(((y.frames >= lo) & (y.frames <= hi)).sum())
            if nx <= max_share * ny:
                dropped.update(id(x.obs[k]) for k in ix)
            elif ny <= max_share * nx:
                dropped.update(id(y.obs[k]) for k in iy)
    if dropped:
        log.debug("interleaved: %d sporadic second estimates of another track's person dropped", len(dropped))
    return dropped
