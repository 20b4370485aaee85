"""Tracker behaviour on pose streams made from real ground truth (Bonn sequence) and synthetic motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_tracking_data import BONN, as_pose, bonn_gt

from edgepose.analyze.tracking import Tracker, TrackerConfig, box_of, iou_matrix, oks_matrix
from edgepose.pose import Pose

pytestmark = pytest.mark.skipif(not BONN.exists(), reason=f"shared data missing: {BONN}")


def run(tracker: Tracker, frames, images=None):
    """Feed (track_id, keypoints) frames; return per frame {track_id: pose} after all updates."""
    kept = []
    for f, people in enumerate(frames):
        poses = {tid: as_pose(k) for tid, k in people}
        tracker.update(list(poses.values()), None if images is None else images[f])
        kept.append(poses)
    return kept


def switches(kept) -> tuple[int, int]:
    """(id switches, annotated people without an id) over a run, the way MOT counts them."""
    last, sw, missed = {}, 0, 0
    for poses in kept:
        for tid, p in poses.items():
            if not isinstance(tid, int) or tid < 0:
                continue
            if p.id is None:
                missed += 1
                continue
            if tid in last and last[tid] != p.id:
                sw += 1
            last[tid] = p.id
    return sw, missed


def pingpong(frames, length):
    """The sequence played forwards then backwards, repeated to ``length`` frames (continuous motion)."""
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    return [frames[order[i % len(order)]] for i in range(length)], [order[i % len(order)] for i in range(length)]


def test_similarity_matrices_are_sane():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 120]], float)
    iou = iou_matrix(a, a)
    assert np.allclose(np.diag(iou), 1.0) and iou[0, 1] == 0.0
    frames, _ = bonn_gt()
    k = np.array([p[1] for p in frames[0]])
    boxes = np.array([box_of(x[:, :2], x[:, 2], 0.3) for x in k])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    oks = oks_matrix(k[:, :, :2], k[:, :, 2], k[:, :, :2], k[:, :, 2], area, 0.3)
    assert np.allclose(np.diag(oks), 1.0)
    assert (oks[~np.eye(4, dtype=bool)] < 0.1).all()


def test_ground_truth_stream_gets_one_stable_id_per_person():
    frames, _ = bonn_gt()
    tracker = Tracker()
    kept = run(tracker, frames)
    assert switches(kept) == (0, 0)           # even the first min_hits-1 frames get their id back
    ids = {tid: {p.id for k in kept for t, p in k.items() if t == tid} for tid in range(4)}
    assert all(len(v) == 1 for v in ids.values())
    assert sorted(next(iter(v)) for v in ids.values()) == [0, 1, 2, 3]


def test_noisy_stream_with_drops_and_false_positives():
    rng = np.random.default_rng(7)
    frames, _ = bonn_gt()
    frames, _ = pingpong(frames, 120)
    noisy = []
    for f, people in enumerate(frames):
        out = []
        for tid, k in people:
            if f > 5 and rng.random() < 0.15:       # the detector misses someone now and then
                continue
            k = k.copy()
            k[:, :2] += rng.normal(0, 3.0, (17, 2))
            out.append((tid, k))
        if rng.random() < 0.3:                      # a one-frame false positive somewhere
            fp = people[rng.integers(len(people))][1].copy()
            fp[:, :2] = fp[:, :2] * 0.5 + rng.uniform(0, 400, 2)
            out.append((-1 - f, fp))
        noisy.append(out)
    tracker = Tracker()
    kept = run(tracker, noisy)
    sw, _ = switches(kept)
    assert sw == 0
    fps = [p for k in kept for t, p in k.items() if t < 0]
    assert fps and all(p.id is None for p in fps)   # never confirmed: min_hits
    assert len(tracker.ids) == 4


def test_short_occlusion_coasts_and_keeps_the_id():
    frames, _ = bonn_gt()
    occluded = [[(t, k) for t, k in people if not (t == 1 and 8 <= f <= 17)] for f, people in enumerate(frames)]
    kept = run(Tracker(), occluded)
    assert switches(kept) == (0, 0)
    assert {kept[7][1].id} == {kept[18][1].id}


def test_performer_who_leaves_and_returns_is_reidentified_with_and_without_frames():
    frames, names = bonn_gt()
    long, order = pingpong(frames, 200)
    gone = [[(t, k) for t, k in people if not (t == 3 and 60 <= f < 140)] for f, people in enumerate(long)]
    images = [cv2.imread(str(BONN / names[i])) for i in order]
    for imgs in (None, images):
        tracker = Tracker()
        kept = run(tracker, gone, imgs)
        assert switches(kept) == (0, 0), "with frames" if imgs else "without frames"
        assert len(tracker.ids) == 4 and tracker.id_revivals >= 1


def test_a_stranger_in_a_lost_performers_place_is_not_given_their_id():
    frames, names = bonn_gt()
    long, order = pingpong(frames, 160)
    images = [cv2.imread(str(BONN / names[i])) for i in order]
    seq = []
    for f, people in enumerate(long):
        out = [(t, k) for t, k in people if not (t == 3 and f >= 60)]
        if f >= 120:                              # someone bigger walks in far away from where 3 left
            k = dict(people)[0].copy()
            k[:, 0] = k[:, 0] * 0.9 - 250
            k[:, 1] = k[:, 1] * 0.9 + 40
            out.append((9, k))
        seq.append(out)
    tracker = Tracker()
    kept = run(tracker, seq, images)
    id3 = kept[59][3].id
    stranger = {p.id for k in kept[125:] for t, p in k.items() if t == 9}
    assert len(stranger) == 1 and None not in stranger and id3 not in stranger
    assert len(tracker.ids) == 5


def test_two_people_crossing_keep_their_ids_through_the_overlap():
    frames, _ = bonn_gt()
    template = dict(frames[0])[2].copy()          # one standing person, ~180 px tall
    template[:, :2] -= template[:, :2].min(0)
    seq = []
    for f in range(60):
        a, b = template.copy(), template.copy()
        a[:, 0] += 100 + 8 * f                    # walks right
        b[:, 0] += 580 - 8 * f                    # walks left; they overlap around frame 30
        b[:, 1] += 6
        seq.append([(0, a), (1, b)])
    tracker = Tracker()
    kept = run(tracker, seq)
    assert switches(kept)[0] == 0
    assert kept[5][0].id != kept[5][1].id
    assert kept[55][0].id == kept[5][0].id and kept[55][1].id == kept[5][1].id


def test_duplicates_of_one_person_are_merged_and_config_is_checked():
    frames, _ = bonn_gt()
    k = frames[0][0][1]
    twin = k.copy()
    twin[:, :2] += 1.5
    out = Tracker(TrackerConfig(min_hits=1)).update([as_pose(k, 0.9), as_pose(twin, 0.8), as_pose(frames[0][1][1])])
    assert len(out) == 2 and sorted(p.id for p in out) == [0, 1]
    with pytest.raises(ValueError, match="min_hits"):
        TrackerConfig(min_hits=0)


def test_blazepose_layout_is_tracked_the_same_way():
    frames, _ = bonn_gt()
    tracker = Tracker(TrackerConfig(min_hits=1))
    from edgepose.skeleton import COCO_FROM_BLAZE
    for people in frames[:5]:
        poses = []
        for _, k in people:
            b = np.zeros((33, 3), np.float32)
            b[list(COCO_FROM_BLAZE)] = k
            poses.append(Pose(b, 0.9))
        tracker.update(poses)
    assert [p.id for p in poses] == [0, 1, 2, 3]


def test_a_person_the_detector_finds_only_every_other_frame_still_gets_an_id():
    frames, _ = bonn_gt()
    flicker = [[(t, k) for t, k in people if t != 2 or f % 2 == 0] for f, people in enumerate(frames)]
    tracker = Tracker()
    kept = run(tracker, flicker)
    assert switches(kept) == (0, 0)
    assert len(tracker.ids) == 4


def test_a_couple_dancing_close_together_are_two_people():
    frames, _ = bonn_gt()
    a = dict(frames[0])[0].copy()                                   # arm out, holding the paddle
    h = np.ptp(a[a[:, 2] > 0, 1])
    b = a.copy()
    b[:, 0] = 2 * a[a[:, 2] > 0, 0].mean() - a[:, 0] + 0.2 * h      # facing her, a step away
    swap = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    b = b[swap]                                                       # her left is his right
    tracker = Tracker(TrackerConfig(min_hits=1))
    out = tracker.update([as_pose(a), as_pose(b)])
    assert iou_matrix(*(np.array([box_of(k[:, :2], k[:, 2], 0.3)]) for k in (a, b)))[0, 0] > 0.5
    assert len(out) == 2 and {p.id for p in out} == {0, 1}


def test_a_person_who_walked_out_of_the_picture_is_not_handed_to_the_next_one_in(monkeypatch):
    """A paddler's annotated pose walks right, 12 px a frame, to the edge of a 960 px frame and
    out; two frames later the same body stands at the edge, inside: a newcomer (on vtest.avi,
    another man in black walking in where one had walked out). Colours and shape are alike, and
    she is close to where the track coasts, so only where it was going says it: its torso left
    the picture, so the track is lost, not coasted onto the newcomer (the offline joining decides
    whether it is the same person back)."""
    from edgepose.analyze import tracking

    frames, _ = bonn_gt()
    k0 = dict(frames[0])[3].astype(np.float64)            # the paddler on the right, torso x ~830
    blank = np.zeros((540, 960, 3), np.uint8)

    def run_out() -> tuple[list[int], int]:
        tracker = Tracker()
        uids = []
        for f in range(10):                               # last seen with the torso at x ~940
            k = k0.copy()
            k[:, 0] += 12 * f
            tracker.update([as_pose(k)], blank)
            uids.append(tracker.last_uids[0])
        for _ in range(2):                                # walked on, out of the picture
            tracker.update([], blank)
        k = k0.copy()
        k[:, 0] += 12 * 10
        tracker.update([as_pose(k)], blank)
        return uids, tracker.last_uids[0]

    uids, newcomer = run_out()
    assert len(set(uids)) == 1 and newcomer != uids[-1]
    monkeypatch.setattr(tracking, "_left_view", lambda *a: False)
    uids, newcomer = run_out()                            # coasted on, the track takes her
    assert newcomer == uids[-1]
