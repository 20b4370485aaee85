"""A take-over where two people meet: one track goes on with the other's person, whose own track
ends there, and the first person comes back as a new track (`edgepose.analyze.swaps.repair_takeovers`).

Seen on vtest.avi (Debian's opencv-doc) on an AMD EPYC without AVX-512: two small pedestrians
cross at the top of the lawn, one turning back; the turner's track went on with the walker for
200 frames (one id on two people) and the walker's own track ended. Measured with
`tools/relink_replay.py` and `tools/crowd_audit.py` (docs/benchmarks.md, "Take-overs"): ids over
a second 16 -> 14 for 11 people, none on two people. The scene here is built like
tests/test_relink_stature.py's crossing: statures and colours tell the two apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.analyze.relink import Fragment as Frag
from edgepose.analyze.relink import LinkConfig, Linker, Obs, stature_fit
from edgepose.analyze.swaps import repair_takeovers
from tests.test_relink_stature import Y0, A, _colour, _pose, _walk


def _meeting(taken_over: bool, seed: int = 0) -> tuple[list[Frag], list[list[Obs]]]:
    """P (stature 1.1, colour 3) walks right and turns back at frame 50, where Q (stature 0.95,
    colour 7), walking right behind, reaches them. When ``taken_over``, pass 1's track 1 goes on
    with Q after frame 50 while Q's own track 2 ends at frame 52 (its last three poses on Q
    as well) and P comes back as track 3 from frame 56. Four others fill the clip's fit."""
    rng = np.random.default_rng(seed)
    people = []
    for st, colour, x0, dx, turn in ((1.1, _colour(3), 200.0, 4.0, True), (0.95, _colour(7), 100.0, 6.0, False)):
        obs = []
        for f in range(120):
            y = 300 + 0.5 * f
            x = x0 + dx * min(f, 50) - (dx * (f - 50) if turn and f > 50 else 0) + (dx * (f - 50) if not turn and f > 50 else 0)
            h = st * A * (y - Y0) * (1 + rng.normal(0, 0.02))
            obs.append(Obs(f, _pose(x, y, h), 0.9, colour))
        people.append(obs)
    p, q = people
    if taken_over:
        twin = [Obs(o.frame, o.kp + np.array([3.0, 2.0, 0.0]), 0.9, o.app) for o in q[50:53]]
        frags = [Frag(1, p[:50] + q[50:]), Frag(2, q[:50] + twin), Frag(3, p[56:])]
    else:
        frags = [Frag(1, p), Frag(2, q)]
    for i, st in enumerate((0.94, 0.97, 1.03, 1.06)):
        frags.append(_walk(10 + i, range(0, 120), (100 + 150 * i, 150 + 30 * i), (0.5, 2.5), st, rng, 0.02))
    return frags, people


def _colour_of(o: Obs) -> int:
    return int(np.argmax(o.app.torso))


@pytest.mark.parametrize("taken_over", [True, False])
def test_a_take_over_is_undone(taken_over):
    frags, _ = _meeting(taken_over)
    coef = stature_fit(frags)[0]
    fixed, n, dropped = repair_takeovers(frags, coef, 10.0, LinkConfig())
    assert n == (1 if taken_over else 0)
    by_uid = {f.uid: f for f in fixed}
    for uid, colour in ((1, 3), (2, 7)):             # each track is one person again
        assert {_colour_of(o) for o in by_uid[uid].obs} == {colour}, uid
    if taken_over:
        assert len(by_uid[2]) == 120                 # Q whole, from the start to the end
        assert len(dropped) == 3                     # Q's old track's last poses: second estimates on Q


def test_through_the_linker_the_two_people_are_two_ids():
    frags, _ = _meeting(True)
    linker = Linker(10.0, LinkConfig(), set())
    person = linker.link(frags)
    assert linker.swaps == 1
    ids = {c: {person[linker.fragment_of[id(o)]] for f in frags for o in f.obs
               if id(o) in linker.fragment_of and _colour_of(o) == c and f.uid in (1, 2, 3)} for c in (3, 7)}
    assert len(ids[3]) == 1 and len(ids[7]) == 1 and ids[3] != ids[7], ids
    # off (no statures to compare: swap_gain inf turns both repairs off): one id holds both people
    linker = Linker(10.0, LinkConfig(swap_gain=float("inf")), set())
    person = linker.link(frags)
    mixed = {person[linker.fragment_of[id(o)]] for o in frags[0].obs}
    assert len(mixed) == 1 and linker.swaps == 0
