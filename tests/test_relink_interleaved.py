"""A track that coasts over someone else's track of the same person and now and then takes a
pose of them (analyze/strays.py ``drop_interleaved``).

On vtest.avi a man walks behind the assembly-point sign: pass 1 loses him, starts a new track
when he comes out, while the old one coasts on, takes 4 poses of him among the new track's 17
and then takes him back. The two tracks co-existed, so they could never be joined, and two
skeletons lay on him in those frames.
"""

from __future__ import annotations

from test_relink_stature import _colour, _pose

from edgepose.analyze.relink import Fragment, LinkConfig, Linker, Obs
from edgepose.analyze.strays import drop_interleaved

FPS = 10.0
SPORADIC = (23, 32, 36, 37)


def _scene() -> tuple[Fragment, Fragment]:
    walk = {f: _pose(200.0 + 2.0 * f, 300.0, 60.0) for f in range(80)}
    old = Fragment(0, [Obs(f, walk[f].copy(), 0.9, _colour(2)) for f in range(80)
                       if f < 23 or f >= 40 or f in SPORADIC])
    new = Fragment(1, [Obs(f, walk[f] + [1.5, 0.5, 0.0], 0.9, _colour(2)) for f in range(23, 40)])
    return old, new


def test_the_sparse_tracks_poses_on_the_other_are_dropped():
    old, new = _scene()
    dropped = drop_interleaved([old, new], max_dist=0.25)
    assert dropped == {id(o) for o in old.obs if o.frame in SPORADIC}
    assert not dropped & {id(o) for o in new.obs}


def test_two_people_side_by_side_keep_their_poses():
    old, new = _scene()
    for o in new.obs:
        o.kp[:, 0] += 25.0                   # another body, under half a body height away
    side = Fragment(1, new.obs)
    assert drop_interleaved([old, side], max_dist=0.25) == set()


def test_two_dense_tracks_on_one_body_are_left_to_the_duplicate_rule():
    _, new = _scene()
    full = Fragment(0, [Obs(f, _pose(200.0 + 2.0 * f, 300.0, 60.0), 0.9, _colour(2)) for f in range(80)])
    assert drop_interleaved([full, new], max_dist=0.25) == set()


def test_the_man_keeps_one_id_with_the_rule_and_two_without():
    for share, ids in ((0.5, 1), (0.0, 2)):
        old, new = _scene()
        linker = Linker(FPS, LinkConfig(interleaved_share=share, stature_scale=0))
        person = linker.link([old, new])
        assert len(set(person.values())) == ids, share
