"""Pose engine behaviour: tracking on video, odd images, bad models."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from edgepose.errors import ModelError, ModelMissing
from edgepose.inference import models, runtime
from edgepose.inference.engine import EngineConfig, PoseEngine, tile_regions
from tests.conftest import need_data


@pytest.fixture(scope="module")
def skier():
    return cv2.imread(str(need_data("keypoints", "coco", "000000000785.jpg")))


def test_runtime_is_litert():
    name, version = runtime.runtime_info()
    assert name in ("ai_edge_litert", "tflite_runtime") and version


def test_video_tracking_runs_detector_rarely():
    video = need_data("video", "walking_toward_camera.mp4")
    eng = PoseEngine(EngineConfig(max_people=1))
    cap = cv2.VideoCapture(str(video))
    n = with_pose = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        poses = eng.process(img, n / 30.0)
        n += 1
        with_pose += bool(poses)
    assert n == 144
    assert with_pose == n                       # measured: a pose on 144/144 frames
    assert eng.stats.detector_frames / n <= 0.03  # measured: 1 detector frame in 144


def test_tracked_keypoints_follow_the_person(skier):
    """Frame-to-frame ROI tracking on a shifted copy lands on the shifted person."""
    eng = PoseEngine(EngineConfig(max_people=1, smoothing=False))
    a = eng.process(skier, 0.0)[0]
    shifted = np.roll(skier, 20, axis=1)
    b = eng.process(shifted, 0.04)[0]
    body = slice(11, 29)
    d = b.keypoints[body, :2] - a.keypoints[body, :2]
    assert np.median(d[:, 0]) == pytest.approx(20, abs=4)
    assert np.median(np.abs(d[:, 1])) < 4
    assert eng.stats.detector_frames == 1


def test_rotated_image_keeps_keypoints(still_engine, skier):
    """A person lying sideways (image turned 90 degrees) is found and mapped back correctly."""
    up = still_engine.detect_image(skier)[0].keypoints
    rot = cv2.rotate(skier, cv2.ROTATE_90_CLOCKWISE)
    side = still_engine.detect_image(rot)[0].keypoints
    h = skier.shape[0]
    # (x, y) in the original -> (h - 1 - y, x) in the rotated image
    expect = np.stack([h - 1 - up[:, 1], up[:, 0]], axis=1)
    err = np.linalg.norm(side[11:29, :2] - expect[11:29], axis=1)
    assert np.median(err) < 8


def test_nobody_gives_no_poses(still_engine, skier):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    grey = np.full((480, 640, 3), 128, np.uint8)
    sky = np.ascontiguousarray(skier[:60, :250])  # snow and sky above the skier
    for img in (noise, grey, sky):
        assert still_engine.detect_image(img) == []


@pytest.mark.parametrize("shape", [(0, 0, 3), (1, 1, 3), (5, 3, 3)])
def test_tiny_or_empty_images(still_engine, shape):
    assert still_engine.detect_image(np.zeros(shape, np.uint8)) == []


def test_grayscale_and_huge_images(still_engine, skier):
    grey = cv2.cvtColor(skier, cv2.COLOR_BGR2GRAY)
    assert len(still_engine.detect_image(grey)) >= 1
    huge = cv2.resize(skier, None, fx=6.0, fy=6.0)  # 3840x2550
    p = still_engine.detect_image(huge)
    ref = still_engine.detect_image(skier)[0].keypoints
    assert p and np.median(np.linalg.norm(p[0].keypoints[11:29, :2] / 6.0 - ref[11:29, :2], axis=1)) < 5


def test_wrong_dtype_is_a_clear_error(still_engine):
    with pytest.raises(ValueError, match="uint8"):
        still_engine.detect_image(np.zeros((100, 100, 3), np.float32))


def test_tiles_cover_the_frame():
    tiles = tile_regions(1920, 1080)
    cover = np.zeros((1080, 1920), bool)
    for x, y, w, h in tiles:
        assert w == h and x + w <= 1920 and y + h <= 1080
        cover[y:y + h, x:x + w] = True
    assert cover.all()


# ---------------------------------------------------------------- models on disk
@pytest.fixture()
def model_dir(tmp_path, monkeypatch):
    for f in ("pose_detection.tflite", "pose_landmark_full.tflite"):
        shutil.copy(models.verified_path(f.removesuffix(".tflite")), tmp_path / f)
    monkeypatch.setenv("EDGEPOSE_MODELS", str(tmp_path))
    return tmp_path


def test_missing_model_names_the_fix(model_dir):
    (model_dir / "pose_landmark_full.tflite").unlink()
    with pytest.raises(ModelMissing, match="edgepose models fetch"):
        PoseEngine(EngineConfig())


def test_truncated_model_is_refused_before_loading(model_dir):
    p = model_dir / "pose_landmark_full.tflite"
    p.write_bytes(p.read_bytes()[: 100_000])
    with pytest.raises(ModelError, match="corrupt"):
        PoseEngine(EngineConfig())


def test_fetch_replaces_a_corrupt_file(model_dir):
    p = model_dir / "pose_detection.tflite"
    p.write_bytes(b"garbage")
    res = models.fetch(["pose_detection"])
    assert res == {"pose_detection": "fetched"}
    assert models.verified_path("pose_detection") == p
    assert models.fetch(["pose_detection"]) == {"pose_detection": "present"}  # re-run: no-op


def test_wrong_model_for_decoder(model_dir, tmp_path):
    with pytest.raises(ModelError, match="not the model for this decoder"):
        PoseEngine(EngineConfig(landmark=str(model_dir / "pose_detection.tflite")))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="not a TFLite model"):
        PoseEngine(EngineConfig(landmark=str(junk)))


def test_missing_delegate_library():
    from edgepose.errors import DelegateError

    with pytest.raises(DelegateError, match="does not exist"):
        PoseEngine(EngineConfig(delegate="/nonexistent/libdelegate.so"))


def test_fetch_derives_the_lean_model_and_the_default_uses_it(model_dir):
    from edgepose.inference.engine import default_landmark

    assert default_landmark() == "float"  # only the fetched files are there
    res = models.fetch()
    assert res["pose_landmark_full_lean"] == "built"
    assert models.fetch()["pose_landmark_full_lean"] == "present"
    assert default_landmark() == "lean"
    lean = (model_dir / "pose_landmark_full_lean.tflite")
    lean.write_bytes(lean.read_bytes()[:-10])  # damaged: refused, then rebuilt by fetch
    assert default_landmark() == "float"
    assert models.fetch()["pose_landmark_full_lean"] == "built"


def test_lean_model_gives_the_same_keypoints(skier):
    a = PoseEngine(EngineConfig(landmark="float")).detect_image(skier)[0].keypoints
    b = PoseEngine(EngineConfig(landmark="lean")).detect_image(skier)[0].keypoints
    assert np.array_equal(a, b)
