"""Following a hidden person must not hand their track to someone else.

Offline, a confirmed track the engine did not find in a frame is looked for where the person was
going (``runner._follow_lost``, the backward pass's ``follow``). On vtest.avi that search kept
finding a *different* person who had walked into the place of the hidden one (a woman in a red
jacket's track following a man in black for 9 frames, own-pixel colour distance 0.81-0.88 in
every frame), and the track then belonged to two people. A pose found there whose colours are
unlike the track's is now refused (``Tracker.looks_unlike``), judged on the pose's own pixels
(those of people standing in front of it left out). Here on the Bonn paddlers' real frames and
annotated poses: the pose "found" is another paddler's (refused) or her own (taken), also when
she is behind another.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import pytest
from test_tracking_data import BONN, bonn_gt

from edgepose.analyze import runner
from edgepose.analyze.tracking import Tracker
from edgepose.pose import Pose
from edgepose.skeleton import COCO_FROM_BLAZE

pytestmark = pytest.mark.skipif(not BONN.exists(), reason=f"shared data missing: {BONN}")
N = 8        # frames tracked before the paddler is "hidden"


def _blaze(k17: np.ndarray) -> Pose:
    k = np.zeros((33, 3), np.float32)
    k[list(COCO_FROM_BLAZE)] = k17
    return Pose(k, 0.9)


class _Back:
    """The backward pass's one call used here: what ``follow`` finds where the person was going."""

    def __init__(self, pose: Pose):
        self.pose = pose

    def follow(self, *args, **kwargs) -> Pose:
        return self.pose


@pytest.fixture(scope="module")
def bonn():
    frames, names = bonn_gt()
    images = [cv2.imread(str(BONN / "frames" / n.split("/")[-1])) for n in names]
    return frames, images


def _hidden_at_n(frames, images, hidden: int, n: int = N):
    """A tracker that saw the four paddlers in frames 0..n-1 and, in frame n, all but ``hidden``."""
    tracker = Tracker()
    for f in range(n):
        tracker.update([_blaze(k) for _, k in frames[f]], images[f])
    last = {tid: k for tid, k in frames[n - 1]}[hidden]
    tracker.update([_blaze(k) for tid, k in frames[n] if tid != hidden], images[n])
    tr = next(t for t in tracker.tracks if t.confirmed and t.last_frame < tracker.frame)
    assert np.allclose(tr.kp, last[:, :2]) and tr.look is not None and tr.look.usable()
    return tracker, tr, last


@pytest.mark.parametrize("hidden", [0, 1, 2, 3])
def test_a_pose_of_someone_else_where_she_was_going_is_refused_and_her_own_taken(bonn, hidden):
    frames, images = bonn
    now = {tid: k for tid, k in frames[N]}
    for found, taken in [(next(t for t in now if t != hidden), False), (hidden, True)]:
        tracker, tr, last = _hidden_at_n(frames, images, hidden)
        held = runner._Held(N, N / 30.0, "bonn", images[N].shape[1], images[N].shape[0], None)
        recent = {tr.uid: deque([(N - 1, _blaze(last))])}
        runner._follow_lost(tracker, _Back(_blaze(now[found])), held, images[N], recent,
                            lambda f, u: [], lambda f, q, u: None, {tr.uid})
        assert (tr.last_frame == tracker.frame) is taken, (hidden, found)
        assert len(held.dets) == int(taken)


def test_a_paddler_behind_another_is_judged_on_her_own_pixels(bonn):
    """Frame 23: the paddler in green (1) has slid behind the one in pink (0), whose head and
    shoulders cover her torso. Seen through the one in front she looks like someone else; with
    the pixels of the people in front of her (feet lower in the picture) left out, her own pose is
    taken."""
    frames, images = bonn
    n, hidden = 23, 1
    now = {tid: k for tid, k in frames[n]}
    front = [k for tid, k in frames[n] if tid != hidden]
    for others, taken in [(lambda f, u: [], False), (lambda f, u: front, True)]:
        tracker, tr, last = _hidden_at_n(frames, images, hidden, n)
        held = runner._Held(n, n / 30.0, "bonn", images[n].shape[1], images[n].shape[0], None)
        recent = {tr.uid: deque([(n - 1, _blaze(last))])}
        runner._follow_lost(tracker, _Back(_blaze(now[hidden])), held, images[n], recent, others,
                            lambda f, q, u: None, {tr.uid})
        assert (tr.last_frame == tracker.frame) is taken


def test_after_three_missed_frames_someone_in_other_clothes_in_her_place_gets_no_share_of_her_track(bonn):
    """The tracker's own matching, not the follow: paddler 2 is missed in frames 8-10; in frame
    11 the pose in her place has paddler 3's pixels (paddler 3's patch of the same frame pasted
    there, her keypoints moved with it; colour distance 0.76 between the two). A track that has
    been missing for ``coast_frames`` is not matched to a pose ``coast_colour`` or more unlike
    it; with the gate off (``coast_colour`` above any distance) the coasting track takes her."""
    from edgepose.analyze.tracking import TrackerConfig

    frames, images = bonn
    n = 11
    k3 = {tid: k for tid, k in frames[n]}[3].astype(np.float64)
    k2 = {tid: k for tid, k in frames[n]}[2].astype(np.float64)
    shift = np.round(k2[k2[:, 2] > 0, :2].mean(0) - k3[k3[:, 2] > 0, :2].mean(0)).astype(int)
    img = images[n].copy()
    x0, y0 = (k3[k3[:, 2] > 0, :2].min(0) - 12).astype(int)
    x1, y1 = (k3[k3[:, 2] > 0, :2].max(0) + 12).astype(int)
    img[y0 + shift[1]:y1 + shift[1], x0 + shift[0]:x1 + shift[0]] = images[n][y0:y1, x0:x1]
    stranger = k3.copy()
    stranger[:, :2] += shift
    for cfg, taken in [(TrackerConfig(), False), (TrackerConfig(coast_colour=9.0), True)]:
        tracker = Tracker(cfg)
        for f in range(8):
            tracker.update([_blaze(k) for _, k in frames[f]], images[f])
        for f in range(8, n):
            tracker.update([_blaze(k) for tid, k in frames[f] if tid != 2], images[f])
        tr = next(t for t in tracker.tracks if t.confirmed and t.misses == 3)
        others = [_blaze(k) for tid, k in frames[n] if tid != 2]
        tracker.update(others + [_blaze(stranger)], img)
        assert (tr.last_frame == tracker.frame) is taken
