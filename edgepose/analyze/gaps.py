"""A pass-1 track cut where it went unseen: the joining decides again who came back.

The online tracker re-acquires a person it lost with what one frame can tell: where they were
going and how they looked. Where two people cross out of sight of each other (one behind the
other), it can hand the hidden person's coasting track to the other one walking out -- on
vtest.avi two men in black: one track holds the first man up to the crossing and the second
after it. The offline joining (:class:`edgepose.analyze.relink.Linker`) sees both sides of the gap
and every other fragment that starts or ends there, so a track is cut into pieces at every gap
of ``min_gap`` frames or more and the pieces join again only where the evidence singles them out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

F = TypeVar("F")


def split_at_gaps(frags: Sequence[F], min_gap: int, make: Callable[[int, list], F]) -> list[F]:
    """Each fragment cut at every gap of at least ``min_gap`` frames between two of its poses.

    ``frags`` have ``uid``, ``frames`` (sorted) and ``obs`` (in frame order); ``make(uid, obs)``
    builds a fragment. The first piece keeps the fragment's uid, later pieces get new uids above
    every existing one, in order (deterministic). ``min_gap`` 0: nothing is cut.
    """
    if min_gap <= 0 or not frags:
        return list(frags)
    out: list[F] = []
    next_uid = max(f.uid for f in frags) + 1
    for f in frags:
        cuts = np.flatnonzero(np.diff(f.frames) >= min_gap) + 1
        if not len(cuts):
            out.append(f)
            continue
        bounds = [0, *cuts.tolist(), len(f.obs)]
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            uid = f.uid if k == 0 else next_uid
            if k:
                next_uid += 1
            out.append(make(uid, f.obs[a:b]))
    return out
