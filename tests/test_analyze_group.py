"""Which ids are people, and whether people form a group performing together (analyze/group.py).

Streams are built from a real annotated person (the COCO skier's 17 keypoints),
moved as the cases need: in place, walking through the view, or seen at other times.
"""

from __future__ import annotations

import json

import numpy as np

from edgepose.analyze.export import PoseLog, Sequence
from edgepose.analyze.group import drop_ids, group_verdict, real_ids
from tests.conftest import need_data

FPS = 25.0


def _person() -> np.ndarray:
    raw = json.load(open(need_data("keypoints", "coco", "coco_person_keypoints.json")))
    a = next(x for x in raw["annotations"] if x.get("num_keypoints", 0) == 17)
    k = np.asarray(a["keypoints"], float).reshape(17, 3)
    k[:, 2] = np.where(k[:, 2] > 0, 0.9, 0.0)
    return k


def _seq(pid: int, frames: range, dx_per_frame: float = 0.0, vis: float = 0.9, x0: float = 0.0) -> Sequence:
    base = _person()
    kps = []
    for f in frames:
        k = base.copy()
        k[:, 0] += x0 + dx_per_frame * f
        k[:, 2] = np.where(base[:, 2] > 0, vis, 0.0)
        kps.append(k)
    fr = np.array(list(frames))
    return Sequence(pid, fr, fr / FPS, np.array(kps), np.full(len(fr), 0.9), layout="coco17")


def _log(seqs: list[Sequence], n: int) -> PoseLog:
    return PoseLog({s.id: s for s in seqs}, n, np.arange(n) / FPS, ["x"], 960, 540)


def test_brief_or_unseen_bodies_are_not_people():
    log = _log([_seq(0, range(100)), _seq(1, range(40, 45)), _seq(2, range(100), vis=0.45)], 100)
    assert real_ids(log) == [0]


def test_people_the_clip_cuts_short_are_people():
    """Someone who comes into view in the clip's last frames (or leaves in its first) had no
    chance to be seen for half a second: seen in nearly every frame up to the edge, they count."""
    log = _log([_seq(0, range(100)),
                _seq(1, range(92, 100)),                 # the last 8 frames (0.32 s)
                _seq(2, range(0, 6)),                    # the first 6, then gone
                _seq(3, range(90, 97)),                  # lost 3 frames before the end
                _seq(4, range(50, 58)),                  # as brief, in the middle: not a person
                _seq(5, range(98, 100)),                 # 2 frames: under the tracker's 3
                _seq(6, [80, 84, 88, 92, 96, 99]),       # sparse up to the end: a flicker
                _seq(7, range(92, 100), vis=0.45)], 100)  # a bag in the last frames
    assert real_ids(log) == [0, 1, 2, 3]


def test_people_in_place_together_are_a_group():
    log = _log([_seq(0, range(200)), _seq(1, range(200), x0=200), _seq(2, range(10, 200), x0=400)], 200)
    v = group_verdict(log, [0, 1, 2])
    assert v.together, v.reason


def test_pedestrians_passing_through_are_not_a_group():
    # each walks several body heights across the view
    log = _log([_seq(0, range(200), dx_per_frame=8.0), _seq(1, range(200), dx_per_frame=-8.0, x0=1600)], 200)
    v = group_verdict(log, [0, 1])
    assert not v.together and "pass through" in v.reason


def test_people_seen_at_different_times_are_not_a_group():
    log = _log([_seq(0, range(0, 100)), _seq(1, range(120, 200), x0=300)], 200)
    v = group_verdict(log, [0, 1])
    assert not v.together and "together" in v.reason


def test_a_line_of_dancers_is_a_group_though_someone_is_always_hidden():
    """Eight dancers in place; each is hidden (behind a neighbour, between two ids) for a different
    fifth of the clip, so all eight are in view together in no frame at all."""
    seqs = [_seq(i, [f for f in range(200) if not 25 * i <= f < 25 * i + 40], x0=150 * i) for i in range(8)]
    log = _log(seqs, 200)
    v = group_verdict(log, list(range(8)))
    assert v.together, v.reason
    assert v.copresence >= 0.9


def test_pedestrians_each_in_view_for_a_stretch_of_their_own_are_not_a_group():
    """Eight people, each in view for 60 of 200 frames, one after another: any six together only
    where their stretches overlap."""
    seqs = [_seq(i, range(20 * i, 20 * i + 60), x0=150 * i) for i in range(8)]
    v = group_verdict(_log(seqs, 200), list(range(8)))
    assert not v.together and "6 of the 8 people" in v.reason


def test_drop_ids_rewrites_poses_jsonl_keeping_every_frame(tmp_path):
    p = tmp_path / "poses.jsonl"
    rows = [{"frame": i, "poses": [{"id": 0}, {"id": 7}]} for i in range(3)] + [{"frame": 3, "poses": []}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert drop_ids(p, {0}) == 3
    back = [json.loads(line) for line in p.read_text().splitlines()]
    assert [r["frame"] for r in back] == [0, 1, 2, 3]
    assert all(q["id"] == 0 for r in back for q in r["poses"])
