"""A pass-1 track cut where it went unseen, so the joining decides who came back (analyze/gaps.py).

On vtest.avi two men in black cross where one walks behind the other; both are unseen for over a
second, and the online tracker hands the first man's coasting track to the second one walking out.
The scene here is that crossing, built with the skeletons of tests/test_relink_stature.py.
"""

from __future__ import annotations

import numpy as np
from test_relink_stature import _colour, _pose

from edgepose.analyze.gaps import handed_over, split_at_gaps
from edgepose.analyze.relink import Fragment, LinkConfig, Linker, Obs

FPS = 10.0


def _crossing() -> tuple[list[Fragment], dict[str, list[Obs]]]:
    """P (colour 3) walks right, Q (colour 7) walks left on the same row; both are hidden in
    frames 40-59 (they cross at 50). Pass 1 gave P's coasting track Q's poses after the gap
    (uid 1), ended Q's track at the gap (uid 2) and started a new one on P (uid 3)."""
    people: dict[str, list[Obs]] = {}
    for name, colour, x0, dx in (("P", _colour(3), 200.0, 4.0), ("Q", _colour(7), 600.0, -4.0)):
        people[name] = [Obs(f, _pose(x0 + dx * f, 300.0, 60.0), 0.9, colour)
                        for f in range(100) if not 40 <= f < 60]
    p, q = people["P"], people["Q"]
    frags = [Fragment(1, p[:40] + q[40:]), Fragment(2, q[:40]), Fragment(3, p[40:])]
    return frags, people


def test_split_at_gaps_cuts_every_long_gap_and_numbers_the_pieces():
    obs = [Obs(f, _pose(100.0, 300.0, 60.0), 0.9, _colour(1)) for f in (*range(0, 5), *range(8, 12), *range(30, 33))]
    frags = [Fragment(4, list(obs)), Fragment(9, [Obs(f, _pose(300.0, 300.0, 60.0), 0.9, _colour(2)) for f in range(20)])]
    pieces = split_at_gaps(frags, 10, Fragment)   # reach unlimited: fragment 9 ends in the long gap
    assert [(f.uid, int(f.frames[0]), int(f.frames[-1])) for f in pieces] == [(4, 0, 11), (10, 30, 32), (9, 0, 19)]
    # the 3-frame gap (frames 5-7) is long enough, but nobody ends or starts there: not cut
    pieces = split_at_gaps(frags, 3, Fragment)
    assert [(f.uid, len(f)) for f in pieces] == [(4, 9), (10, 3), (9, 20)]
    frags.append(Fragment(12, [Obs(f, _pose(400.0, 300.0, 60.0), 0.9, _colour(3)) for f in range(6, 40)]))
    pieces = split_at_gaps(frags, 3, Fragment)                    # now fragment 12 starts in it
    assert [(f.uid, len(f)) for f in pieces] == [(4, 5), (13, 4), (14, 3), (9, 20), (12, 34)]
    assert [o for f in pieces[:3] for o in f.obs] == obs          # every pose kept, in order
    assert split_at_gaps(frags, 0, Fragment) == frags


def test_the_track_handed_over_in_the_gap_is_cut_and_each_person_joined_again():
    frags, people = _crossing()
    linker = Linker(FPS, LinkConfig())
    person = linker.link(frags)
    who = {name: {person[linker.fragment_of[id(o)]] for o in obs} for name, obs in people.items()}
    assert len(who["P"]) == 1 and len(who["Q"]) == 1, who       # one id each, over the whole clip
    assert who["P"] != who["Q"]


def test_without_the_cut_one_id_holds_both_men():
    frags, people = _crossing()
    linker = Linker(FPS, LinkConfig(split_gap=0))
    person = linker.link(frags)
    who = {name: {person[linker.fragment_of[id(o)]] for o in obs} for name, obs in people.items()}
    assert who["P"] & who["Q"], who
    assert np.isfinite(LinkConfig().split_gap) and LinkConfig().split_gap > 0


def test_a_gap_where_nobody_else_ends_or_starts_is_left_to_the_tracker():
    """A dancer hidden for 2 s behind another whose track goes on: nothing to hand over, no cut;
    a fragment ending in the gap but far away (over ``reach`` body heights) does not count."""
    hidden = [Obs(f, _pose(200.0 + f, 300.0, 60.0), 0.9, _colour(1)) for f in range(100) if not 40 <= f < 60]
    front = [Obs(f, _pose(240.0, 320.0, 70.0), 0.9, _colour(2)) for f in range(100)]
    far = [Obs(f, _pose(700.0, 300.0, 60.0), 0.9, _colour(3)) for f in range(50)]
    frags = [Fragment(1, hidden), Fragment(2, front), Fragment(3, far)]
    assert not handed_over(frags, frags[0], 40, reach=2.0)
    assert handed_over(frags, frags[0], 40, reach=20.0)
    assert [f.uid for f in split_at_gaps(frags, 5, Fragment, reach=2.0)] == [1, 2, 3]
    person = Linker(FPS, LinkConfig()).link(frags)
    assert len(set(person.values())) == 3
