"""A rival that is clearly better off with a partner of its own does not block a join
(``LinkConfig.weigh_alternatives``, ``Linker._better_apart``).

The case is vtest.avi's, costs as measured there (tools/relink_replay.py): J walks out of the
picture (fragment 0) and comes back 7 s later (fragment 3); I is seen for a while (fragment 1)
in the gap and then again for a long walk (fragment 2), during which J is in view too. I's piece
is the cheapest match for I's walk (0.19) and J's return for J (0.21); I's piece with J's return
(0.26) is within the margin of both, so before the rule each pair blocked the other and both men
kept two ids. J's return taking I's piece would leave J's first fragment with nobody; I's piece
taking J's return would leave I's walk with nobody: both exchanges cost far more than the joins.
"""

from __future__ import annotations

import numpy as np
from test_relink_stature import _colour, _pose

from edgepose.analyze.relink import Fragment, LinkConfig, Linker, Obs

FPS = 10.0
# fragment uid -> the frames it is seen in (co-existing fragments can never join)
SPANS = {0: range(0, 148), 1: range(150, 209), 2: range(230, 356), 3: range(220, 360)}
COST = {frozenset(p): c for p, c in (((1, 2), 0.191), ((0, 3), 0.206), ((1, 3), 0.261), ((0, 1), 0.6),
                                     ((0, 2), 0.5))}


class _TableLinker(Linker):
    """The joining loop on a table of fragment costs (a group's cost: its worst pair's)."""

    def cost(self, x, y):
        pairs = [frozenset((a.uid, b.uid)) for a in x.frags for b in y.frags]
        return max(COST.get(p, np.inf) for p in pairs)


def _frags() -> list[Fragment]:
    return [Fragment(uid, [Obs(f, _pose(100.0 + 150 * uid, 300.0, 60.0), 0.9, _colour(uid)) for f in frames])
            for uid, frames in SPANS.items()]


def _link(**kw) -> dict[int, int]:
    cfg = LinkConfig(stature_scale=0, split_gap=0, **kw)
    return _TableLinker(FPS, cfg).link(_frags())


def test_two_pairs_that_contested_each_other_are_both_joined():
    person = _link()
    assert person[1] == person[2] and person[0] == person[3]
    assert person[0] != person[1]


def test_without_weighing_the_alternatives_both_pairs_stay_apart():
    person = _link(weigh_alternatives=False)
    assert len(set(person.values())) == 4


def test_a_rival_with_nobody_else_still_blocks_the_join():
    """If J's first fragment were not there, J's return would have no partner but I's piece:
    choosing between the walk and the return is then the ambiguity the margin is for."""
    linker = _TableLinker(FPS, LinkConfig(stature_scale=0, split_gap=0))
    frags = [f for f in _frags() if f.uid != 0]
    person = linker.link(frags)
    assert len(set(person.values())) == 3
    assert linker.ambiguous >= 1
