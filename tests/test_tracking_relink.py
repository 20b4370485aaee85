"""Offline identity on real data: colours from a person's own pixels, one pose per body, and
fragments joined into people only when they never co-exist and the hand-over is possible.

Poses are the Bonn sequence's annotated people (track ids known) on its real frames.
"""

from __future__ import annotations

import cv2
import pytest
from test_tracking_data import BONN, bonn_gt

from edgepose.analyze import appearance
from edgepose.analyze.relink import Fragment, Linker, Obs, drop_duplicates, mark_crowded, one_body

pytestmark = pytest.mark.skipif(not BONN.exists(), reason=f"shared data missing: {BONN}")


@pytest.fixture(scope="module")
def bonn():
    frames, names = bonn_gt()
    images = [cv2.imread(str(BONN / "frames" / n.split("/")[-1])) for n in names]
    return frames, images


def _obs(frames, images, track: int, span: range, shift=(0.0, 0.0)) -> list[Obs]:
    out = []
    for f in span:
        for tid, k in frames[f]:
            if tid == track:
                k = k.copy()
                k[:, :2] += shift
                out.append(Obs(f, k, 0.9, appearance.describe(images[f], k)))
    return out


def test_colours_of_the_own_pixels_tell_the_four_paddlers_apart(bonn):
    """Where a paddler stands clear of the others; where two overlap (frames 16-24: the woman
    in green behind the one in pink) the pixels are partly someone else's, which is why a
    fragment's colours come from its uncrowded frames."""
    frames, images = bonn
    apps = {tid: [] for tid in range(4)}
    for f in range(0, 25, 4):
        obs = [Obs(f, k, 1.0, appearance.describe(images[f], k)) for _, k in frames[f]]
        mark_crowded([obs])
        for (tid, _), o in zip(frames[f], obs, strict=True):
            if not o.crowded:
                apps[tid].append(o.app)
    assert all(len(v) >= 4 for v in apps.values()) and sum(map(len, apps.values())) < 28
    assert all(a.torso is not None for v in apps.values() for a in v)
    for tid in range(4):
        same = [appearance.distance(apps[tid][0], b) for b in apps[tid][1:]]
        other = [appearance.distance(apps[tid][0], b) for o in range(4) if o != tid for b in apps[o]]
        assert max(same) < min(other), (tid, same, other)


def test_part_masks_follow_the_body_not_the_box(bonn):
    frames, _ = bonn
    k = frames[0][0][1]
    torso, legs = appearance.part_masks((540, 960), k)
    x0, y0 = k[k[:, 2] > 0, :2].min(0)
    x1, y1 = k[k[:, 2] > 0, :2].max(0)
    box = (x1 - x0) * (y1 - y0)
    assert torso is not None and 0 < (torso > 0).sum() < 0.35 * box
    if legs is not None:
        assert (legs > 0).sum() < 0.35 * box and not ((torso > 0) & (legs > 0)).all()


def test_a_split_track_is_joined_and_co_existing_people_never_are(bonn):
    frames, images = bonn
    frags = [Fragment(0, _obs(frames, images, 0, range(0, 12))),
             Fragment(1, _obs(frames, images, 0, range(14, 25)))]        # a two-frame gap
    frags += [Fragment(10 + t, _obs(frames, images, t, range(25))) for t in (1, 2, 3)]
    person = Linker(30.0).link(frags)
    assert person[0] == person[1]
    assert len({person[u] for u in (0, 11, 12, 13)}) == 4
    # A twin in the same clothes (the same pixels) who co-exists with paddler 0 is someone else.
    twin = Fragment(20, [Obs(o.frame, o.kp + [5.0, 0.0, 0.0], o.score, o.app) for o in frags[0].obs[3:9]])
    person = Linker(30.0).link([frags[0], twin])
    assert person[0] != person[20]


def test_three_fragments_of_one_walk_are_joined_a_choice_between_two_is_not(bonn):
    """Paddler 0 lost twice: each piece's best rival is her own other piece, which the margin
    rule alone reads as a choice (all three stay apart); the chain rule sees one person. Two
    co-existing candidates for one fragment (her and a twin in her pixels) stay a choice."""
    from dataclasses import replace

    from edgepose.analyze.relink import LinkConfig

    frames, images = bonn
    pieces = [Fragment(i, _obs(frames, images, 0, r)) for i, r in enumerate((range(0, 7), range(9, 16), range(18, 25)))]
    old = Linker(30.0, replace(LinkConfig(), chain_cost=0.0)).link(pieces)
    assert len(set(old.values())) > 1                    # without the rule: not singled out
    person = Linker(30.0).link(pieces)
    assert len(set(person.values())) == 1
    a = Fragment(0, _obs(frames, images, 0, range(0, 12)))
    b = Fragment(1, _obs(frames, images, 0, range(14, 25)))
    twin = Fragment(2, [Obs(o.frame, o.kp + [5.0, 0.0, 0.0], o.score, o.app) for o in b.obs])
    person = Linker(30.0).link([a, b, twin])
    assert person[0] != person[1] and person[0] != person[2] and person[1] != person[2]


def test_a_hand_over_no_one_could_make_is_refused(bonn):
    frames, images = bonn
    a = Fragment(0, _obs(frames, images, 0, range(0, 12)))
    # The same person, the same colours, two frames later but 600 px away: not a person's move.
    far = Fragment(1, [Obs(o.frame, o.kp + [-600.0, 0.0, 0.0], o.score, o.app)
                       for o in _obs(frames, images, 0, range(14, 25))])
    near = Fragment(2, _obs(frames, images, 0, range(14, 25)))
    person = Linker(30.0).link([a, far])
    assert person[0] != person[1]
    person = Linker(30.0).link([a, near])
    assert person[0] == person[2]


def test_two_poses_on_one_body_keep_the_longer_fragment(bonn):
    frames, _ = bonn
    k = frames[5][0][1]
    twin = k.copy()
    twin[:, :2] += 3.0
    other = frames[5][1][1]
    assert one_body(k, twin) and not one_body(k, other)
    dets = [[(0, Obs(5, k, 0.8)), (7, Obs(5, twin, 0.95)), (1, Obs(5, other, 0.9))]]
    assert drop_duplicates(dets, {0: 25, 7: 3, 1: 25}) == [(5, 7)]
