"""A pass-1 track cut where it went unseen: the joining decides again who came back.

The online tracker re-acquires a person it lost with what one frame can tell: where they were
going and how they looked. Where two people cross out of sight of each other (one behind the
other), it can hand the hidden person's coasting track to the other one walking out -- on
vtest.avi two men in black: one track holds the first man up to the crossing and the second
after it. The offline joining (:class:`edgepose.analyze.relink.Linker`) sees both sides of the gap
and every other fragment that starts or ends there, so a track is cut into pieces at a gap of
``min_gap`` frames or more where another fragment ends or starts nearby (someone it could have
been handed to, or the person back on a track of their own), and the pieces join again only
where the evidence singles them out. A gap with nobody else's track ending or starting there
(a dancer hidden behind one whose track goes on) is left to the tracker: cutting every gap made
ordinary occlusions ambiguous (vtest 16 -> 19-20 ids at 0.3-0.7 s; docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

F = TypeVar("F")


def handed_over(frags: Sequence, f, i: int, reach: float) -> bool:
    """Another fragment ends or starts inside the gap before pose ``i`` of ``f`` (frames
    strictly between the two poses around it, or on them), its torso there within ``reach``
    body heights of where ``f`` was before or after the gap: someone the track could have been
    handed to, or the person coming back on a track of their own. Nobody there (a person
    hidden behind another whose track goes on): the tracker's re-acquisition stands."""
    fa, fb = int(f.frames[i - 1]), int(f.frames[i])
    ends = (f.pos[i - 1], f.pos[i])
    h = float(max(f.scale[i - 1], f.scale[i], 1.0))
    for g in frags:
        if g is f:
            continue
        for k in (0, len(g.frames) - 1):
            if fa <= int(g.frames[k]) <= fb and \
                    min(float(np.linalg.norm(g.pos[k] - e)) for e in ends) <= reach * h:
                return True
    return False


def split_at_gaps(frags: Sequence[F], min_gap: int, make: Callable[[int, list], F],
                  reach: float = float("inf")) -> list[F]:
    """Each fragment cut at every gap of at least ``min_gap`` frames between two of its poses
    where another fragment ends or starts (:func:`handed_over`, within ``reach`` body heights).

    ``frags`` have ``uid``, ``frames`` (sorted), ``pos``, ``scale`` and ``obs`` (in frame order);
    ``make(uid, obs)`` builds a fragment. The first piece keeps the fragment's uid, later pieces
    get new uids above every existing one, in order (deterministic). ``min_gap`` 0: nothing is cut.
    """
    if min_gap <= 0 or not frags:
        return list(frags)
    out: list[F] = []
    next_uid = max(f.uid for f in frags) + 1
    for f in frags:
        cuts = [i for i in (np.flatnonzero(np.diff(f.frames) >= min_gap) + 1).tolist()
                if handed_over(frags, f, i, reach)]
        if not cuts:
            out.append(f)
            continue
        bounds = [0, *cuts, len(f.obs)]
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            uid = f.uid if k == 0 else next_uid
            if k:
                next_uid += 1
            out.append(make(uid, f.obs[a:b]))
    return out
