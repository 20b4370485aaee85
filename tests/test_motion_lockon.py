"""Finding people by where the picture moved (a fixed camera), for those the face-keyed detector
misses: the back-lit overhead-press lifter is found from her first press, not after it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.inference.engine import EngineConfig, PoseEngine
from edgepose.inference.motion import MotionRegions
from tests.conftest import need_data

# Debian's opencv-doc (installed by tools/quickstart.sh, as for the vtest.avi demo): real photos
# with nobody in them.
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
PERSON_FREE = ("aero1.jpg", "building.jpg", "fruits.jpg", "home.jpg", "leuvenA.jpg", "sudoku.png",
               "box_in_scene.png", "rubberwhale1.png", "aloeL.jpg")


def test_regions_only_where_something_moved():
    rng = np.random.default_rng(3)
    scene = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    scene = cv2.GaussianBlur(scene, (0, 0), 3)
    m = MotionRegions()
    for _ in range(10):
        m.update(scene)
    assert m.regions() == []                                   # a still scene: nothing
    for i in range(10):
        f = scene.copy()
        cv2.rectangle(f, (300 + 6 * i, 100), (360 + 6 * i, 300), (255, 255, 255), -1)  # a figure walking
        m.update(f)
    (x, y, w, h), *_ = m.regions()
    assert 280 <= x <= 320 and 80 <= y <= 110 and 90 <= w <= 160 and 180 <= h <= 230
    for i in range(10):                                          # the lights come on: the whole frame
        m.update(cv2.convertScaleAbs(scene, alpha=1.0 + 0.08 * i, beta=4 * i))
    assert m.regions() == []


def _first_pose(clip: Path, motion: bool) -> tuple[int | None, PoseEngine]:
    eng = PoseEngine(EngineConfig(max_people=1, motion=motion))
    cap = cv2.VideoCapture(str(clip))
    i, first = 0, None
    while first is None and i < 120:
        ok, img = cap.read()
        if not ok:
            break
        if eng.process(img, i / 30.0) and first is None:
            first = i
        i += 1
    return first, eng


def test_a_back_lit_lifter_is_found_as_she_moves():
    clip = need_data("exercise", "overhead_press_quva030.mp4")
    with_motion, eng = _first_pose(clip, motion=True)
    without, _ = _first_pose(clip, motion=False)
    # measured: frame 6 with motion (found by it), frame 45 by the detector alone
    assert with_motion is not None and with_motion <= 10 and eng.stats.motion_found >= 1
    assert without is not None and without >= 40


@pytest.mark.parametrize("name", PERSON_FREE)
def test_nobody_in_a_still_scene_stays_nobody(name):
    img = cv2.imread(str(OPENCV_SAMPLES / name))
    assert img is not None, f"{OPENCV_SAMPLES / name} missing: apt-get install opencv-doc (tools/quickstart.sh does)"
    eng = PoseEngine(EngineConfig(max_people=1))
    assert not any(eng.process(img, i / 30.0) for i in range(30))
    assert eng.stats.motion_found == 0


@pytest.mark.parametrize("start", [120, 280])
def test_the_lifter_is_found_within_half_a_second_from_any_start(start):
    """Started at frames where she stands still while only the bar and arms move (measured before
    the larger square below the motion: 15 frames, 0.52 s; now 6): the live engine, as
    `edgepose run` builds it, finds her within half a second, where a run from frame 0 has her."""
    from edgepose.config import loads
    from edgepose.inference.engine import make_engine

    clip = need_data("exercise", "overhead_press_quva030.mp4")
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while len(frames) < start + 16:
        ok, img = cap.read()
        assert ok
        frames.append(img)
    cfg = loads("[model]\nthreads = 2\n")
    reference = make_engine(EngineConfig.from_config(cfg))
    ref = [reference.process(f, i / fps) for i, f in enumerate(frames)]
    eng = make_engine(EngineConfig.from_config(cfg))
    for j, f in enumerate(frames[start:start + int(0.5 * fps) + 1]):
        poses = eng.process(f, j / fps)
        if poses:
            break
    assert poses, f"nobody within half a second of frame {start}"
    assert j / fps <= 0.5 and ref[start + j]
    hip = lambda p: p.keypoints[[23, 24], :2].mean(0)  # noqa: E731
    height = np.ptp(ref[start + j][0].keypoints[11:29, 1])
    assert np.linalg.norm(hip(poses[0]) - hip(ref[start + j][0])) < 0.1 * height
