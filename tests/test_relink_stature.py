"""Stature on a fixed camera: pixel height grows linearly with the feet's image row, so each
fragment's height against the clip's fit is a signature that survives a long gap in look-alike
clothes (`edgepose.analyze.relink.stature_fit`, the stature term of `Linker.cost`).

The scene is built: upright skeletons of known stature walking over a plaza seen from above
(h = 0.2 * (y_foot + 100) px for the typical person), every one in the same colours and body
proportions, so only the stature can tell two of them apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgepose.analyze.appearance import BINS, Appearance
from edgepose.analyze.relink import Fragment as Frag
from edgepose.analyze.relink import LinkConfig, Linker, Obs, repair_swaps, stature_fit
from edgepose.skeleton import COCO_INDEX

A, Y0 = 0.2, -100.0
_SAME = Appearance(np.full(BINS, 1.0 / BINS), np.full(BINS, 1.0 / BINS))
# Height fractions above the feet (shoulder-to-foot height = 1) and half-widths of each joint.
_UP = {"nose": (1.18, 0.0), "left_eye": (1.2, 0.03), "right_eye": (1.2, -0.03), "left_ear": (1.18, 0.06),
       "right_ear": (1.18, -0.06), "left_shoulder": (1.0, 0.16), "right_shoulder": (1.0, -0.16),
       "left_elbow": (0.72, 0.2), "right_elbow": (0.72, -0.2), "left_wrist": (0.48, 0.2),
       "right_wrist": (0.48, -0.2), "left_hip": (0.52, 0.1), "right_hip": (0.52, -0.1),
       "left_knee": (0.26, 0.09), "right_knee": (0.26, -0.09), "left_ankle": (0.0, 0.08),
       "right_ankle": (0.0, -0.08)}


def _pose(x: float, y_foot: float, h: float) -> np.ndarray:
    k = np.zeros((17, 3))
    for name, (up, side) in _UP.items():
        k[COCO_INDEX[name]] = (x + side * h, y_foot - up * h, 0.95)
    return k


def _walk(uid: int, frames: range, start: tuple[float, float], step: tuple[float, float], stature: float,
          rng: np.random.Generator, noise: float) -> Frag:
    obs = []
    for i, f in enumerate(frames):
        x, y = start[0] + step[0] * i, start[1] + step[1] * i
        h = stature * A * (y - Y0) * (1 + rng.normal(0, noise))
        obs.append(Obs(f, _pose(x, y, h), 0.9, _SAME))
    return Frag(uid, obs)


def _scene(stature_y: float, stature_z: float, noise: float = 0.02, seed: int = 0) -> list[Frag]:
    """X (stature 1) walks down the plaza in frames 0-99 and leaves; 20 s later two people, Y and
    Z, walk at once (they co-exist: two people), one of them X again. Four others of statures
    0.94-1.06 cross the plaza up and down the whole time (they co-exist with everyone: no
    candidates, but part of the clip's fit)."""
    rng = np.random.default_rng(seed)
    out = [_walk(1, range(0, 100), (200, 200), (1.0, 2.0), 1.0, rng, noise),
           _walk(2, range(300, 400), (600, 420), (-1.5, -2.0), stature_y, rng, noise),
           _walk(3, range(300, 400), (300, 250), (1.5, 1.5), stature_z, rng, noise)]
    for i, st in enumerate((0.94, 0.97, 1.03, 1.06)):
        down = _walk(10 + i, range(0, 200), (100 + 150 * i, 150 + 30 * i), (0.5, 1.5), st, rng, noise)
        up = _walk(10 + i, range(200, 400), (200 + 150 * i, 450 + 30 * i), (0.5, -1.5), st, rng, noise)
        out.append(Frag(10 + i, down.obs + up.obs))
    return out


def test_the_fit_recovers_each_fragments_stature():
    coef, residual, stat = stature_fit(_scene(1.0, 0.88))
    # The residual holds the people's own statures (+-6 %) besides 2 % noise: 0.04 (vtest: 0.042).
    assert residual < LinkConfig().stature_fit, residual
    assert coef[0] == pytest.approx(A, rel=0.1)
    # The fit is of the clip's typical person (here mostly stature 1 with one of 0.88), so only
    # ratios are meaningful.
    assert stat[2] / stat[1] == pytest.approx(1.0, abs=0.02)
    assert stat[3] / stat[1] == pytest.approx(0.88, abs=0.02)


@pytest.mark.parametrize(("sy", "sz", "same"), [(1.0, 0.88, 2), (0.88, 1.0, 3), (1.0, 1.12, 2)])
def test_stature_singles_out_the_returning_person(sy, sz, same):
    frags = _scene(sy, sz)
    person = Linker(10.0, LinkConfig(), set()).link(frags)
    other = 5 - same
    assert person[1] == person[same] != person[other]
    assert len(set(person.values())) == 6
    # Without the stature term, colours and proportions agree with both and a 20 s gap says
    # nothing: the join is ambiguous and refused.
    person = Linker(10.0, LinkConfig(stature_scale=0.0), set()).link(frags)
    assert len(set(person.values())) == 7


def test_no_stature_where_heights_do_not_follow_the_floor():
    """A dance or a moving camera: heights scatter around the line (here by 25 %); the fit is
    reported bad and the stature term is not used, so the pair stays ambiguous."""
    frags = _scene(1.0, 0.88, noise=0.25, seed=1)
    linker = Linker(10.0, LinkConfig(), set())
    person = linker.link(frags)
    assert linker.stature_residual is not None and linker.stature_residual > LinkConfig().stature_fit
    assert linker.stature == {}
    assert len(set(person.values())) == 7


def _colour(k: int) -> Appearance:
    h = np.full(BINS, 0.2 / BINS)
    h[k] += 0.8
    return Appearance(h / h.sum(), h / h.sum())


def _crossing(swapped: bool, seed: int = 0) -> list[Frag]:
    """P (stature 1.1, colour 3) walks right and Q (stature 0.95, colour 7) walks left along the
    same row; they cross at frame 50. Pass 1 swapped them there when ``swapped``: each
    fragment's poses from frame 50 on are the other person's. Four others fill the clip's fit."""
    rng = np.random.default_rng(seed)
    people = []
    for st, colour, x0, dx in ((1.1, _colour(3), 200.0, 4.0), (0.95, _colour(7), 600.0, -4.0)):
        obs = []
        for f in range(100):
            y = 300 + 0.5 * f
            h = st * A * (y - Y0) * (1 + rng.normal(0, 0.02))
            obs.append(Obs(f, _pose(x0 + dx * f, y, h), 0.9, colour))
        people.append(obs)
    p, q = people
    if swapped:
        p, q = p[:50] + q[50:], q[:50] + p[50:]
    out = [Frag(1, p), Frag(2, q)]
    for i, st in enumerate((0.94, 0.97, 1.03, 1.06)):
        out.append(_walk(10 + i, range(0, 100), (100 + 150 * i, 150 + 30 * i), (0.5, 3.0), st, rng, 0.02))
    return out


@pytest.mark.parametrize("swapped", [True, False])
def test_a_swap_where_two_people_cross_is_undone(swapped):
    frags = _crossing(swapped)
    coef, residual, _ = stature_fit(frags)
    fixed, n = repair_swaps(frags, coef, 10.0, LinkConfig())
    assert n == (1 if swapped else 0)
    by_uid = {f.uid: f for f in fixed}
    # Each fragment is one person again: one colour (and stature) from start to end.
    for uid, colour in ((1, 3), (2, 7)):
        assert all(int(np.argmax(o.app.torso)) == colour for o in by_uid[uid].obs), uid
        assert len(by_uid[uid]) == 100
    # Through the Linker, the poses that moved are reported under the fragment they ended in.
    linker = Linker(10.0, LinkConfig(), set())
    linker.link(frags)
    assert linker.swaps == n
    moved = [o for o in frags[0].obs if linker.fragment_of[id(o)] != 1]
    assert len(moved) == (50 if swapped else 0)
    # Off: nothing is exchanged.
    linker = Linker(10.0, LinkConfig(swap_gain=float("inf")), set())
    linker.link(frags)
    assert linker.swaps == 0 and all(linker.fragment_of[id(o)] == 1 for o in frags[0].obs)
