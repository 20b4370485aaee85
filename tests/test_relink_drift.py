"""A track that drifts onto the person in front (`edgepose.analyze.strays.drop_drifted`).

When someone walks behind another person, the crop that follows them can slide down onto the one
in front: for a few frames the pose keeps the hidden person's head and shoulders but stands on
the other's legs (seen on vtest.avi, frames 740-742: the man in the long coat behind the bald
man, his pose's ankles on the bald man's within 4 px, its body 1.5x as tall as a second before).
Those poses are wrong, and they make the hand-over to the person's next fragment look impossible.
The scene is built with the skeletons of tests/test_relink_stature.py.
"""

from __future__ import annotations

from test_relink_stature import _SAME, _pose

from edgepose.analyze.relink import Fragment, LinkConfig, Linker, Obs
from edgepose.analyze.strays import drop_drifted
from edgepose.skeleton import COCO_INDEX

_C = COCO_INDEX
_LOWER = [_C[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")]


def _scene(drift: bool) -> tuple[list[Fragment], list[int]]:
    """J (60 px, feet at row 250) walks right behind G (80 px, feet at row 300, standing near
    x = 400); J is hidden in frames 40-41 and comes back on the other side (fragment 3).
    With ``drift``, J's last three poses before the gap stand on G's legs (hips half-way down)."""
    j1, j2, g, drifted = [], [], [], []
    for f in range(0, 70):
        g.append(Obs(f, _pose(400.0 + 0.2 * f, 300.0, 80.0), 0.9, _SAME))
        x = 300.0 + 2.5 * f
        if f < 40:
            k = _pose(x, 250.0, 60.0)
            if drift and f >= 37:
                below = g[-1].kp
                k[_LOWER[2:], :2] = below[_LOWER[2:], :2]
                k[_LOWER[:2], :2] = (k[_LOWER[:2], :2] + below[_LOWER[:2], :2]) / 2
                drifted.append(f)
            j1.append(Obs(f, k, 0.9, _SAME))
        elif f >= 42:
            j2.append(Obs(f, _pose(x, 250.0, 60.0), 0.9, _SAME))
    return [Fragment(1, j1), Fragment(2, g), Fragment(3, j2)], drifted


def test_the_drifted_poses_are_dropped_and_the_person_joined_again():
    frags, drifted = _scene(drift=True)
    linker = Linker(10.0)
    person = linker.link(frags)
    dropped = {o.frame for f in frags for o in f.obs if id(o) in linker.dropped}
    assert dropped == set(drifted)
    assert all(id(o) not in linker.dropped for o in frags[1].obs)      # the person in front keeps every pose
    assert person[1] == person[3] != person[2]


def test_without_the_check_the_drifted_tail_keeps_them_apart():
    frags, _ = _scene(drift=True)
    linker = Linker(10.0, LinkConfig(drift_size=float("inf")))
    person = linker.link(frags)
    assert not linker.dropped
    assert len({person[1], person[2], person[3]}) == 3


def test_people_standing_apart_or_of_a_steady_size_lose_nothing():
    frags, _ = _scene(drift=False)
    linker = Linker(10.0)
    person = linker.link(frags)
    assert not linker.dropped and person[1] == person[3] != person[2]
    # Two people whose legs overlap in the image (one right behind the other) but whose sizes
    # stay their own: nobody drifted, nothing dropped.
    a = [Obs(f, _pose(400.0, 300.0, 80.0), 0.9, _SAME) for f in range(30)]
    b = [Obs(f, _pose(400.0, 300.0, 80.0), 0.9, _SAME) for f in range(30)]
    for o in b:                       # the same legs, a torso of its own above them
        o.kp[:_C["left_hip"], 1] -= 12.0
    cfg = LinkConfig()
    assert not drop_drifted([Fragment(5, a), Fragment(6, b)], 10.0, cfg.drift_size, cfg.drift_window)


def test_a_fragment_taken_over_by_a_new_one_on_the_same_body_is_joined_with_it():
    """Pass 1 starts a new track on a walker (frame 19) while the old one still holds a second
    estimate of her, 8 px away (a seventh of her height), for two more frames. The two co-exist
    there, so without the check she is two people; her old track's last two poses are dropped
    and the two fragments are one person. Someone who walks on beside her is never dropped."""
    def walker(frames, dx=0.0):
        return [Obs(f, _pose(300.0 + 2.0 * f + dx, 250.0, 60.0), 0.9, _SAME) for f in frames]

    old, new = Fragment(1, walker(range(0, 21), dx=8.0)), Fragment(2, walker(range(19, 40)))
    linker = Linker(10.0)
    person = linker.link([old, new])
    assert {o.frame for o in old.obs if id(o) in linker.dropped} == {19, 20}
    assert person[1] == person[2]
    person = Linker(10.0, LinkConfig(overlap_frames=0)).link([old, new])
    assert person[1] != person[2]
    # Beside her (40 px: two thirds of her height) in the shared frames: two people, nothing dropped.
    beside = Fragment(3, walker(range(0, 21), dx=40.0))
    linker = Linker(10.0)
    person = linker.link([beside, new])
    assert not linker.dropped and person[3] != person[2]
