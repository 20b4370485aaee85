"""Static objects on real footage: a track that never moves as a body does is dropped
(:mod:`edgepose.analyze.still`), a real person holding still is kept.

* OpenCV's ``vtest.avi`` (Debian ``opencv-doc``): the blue notice board on the upper-left lawn,
  which the pose model takes for a person (6 ids, 123 poses in a full analysis before the check);
* the stillest stretch of the shared overhead-press clip (frames 318-363: the woman stands with
  the bar on her shoulders, her keypoints move under 3 % of her height): a real person holding
  still, whose pixels still change (breathing, sway, the bar);
* a "poster": one frame repeated, each copy with +-1 grey-level noise and JPEG re-encoding at
  quality 70-95 -- a picture of a person: one of her (the probe alone), and one of the man of the
  shared squat clip at the bottom of a squat (frame 60, bright gym; the engine finds him in it,
  and not her in the noisy copies of her dim, back-lit frame).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_tracking_data import DATA

from edgepose.analyze.still import ChangeProbe, StillConfig, is_static
from tests.conftest import needs_pose_models

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
PRESS = DATA / "exercise" / "overhead_press_quva030.mp4"
SQUAT = DATA / "exercise" / "squat_side_gym.mp4"
STILL = (318, 364)                           # her stillest 1.6 s
# Where she stands in that stretch (COCO-17 x, y of the engine's pose at frame 338).
HER = np.array([[287, 89], [289, 88], [286, 88], [290, 89], [284, 90], [299, 104], [274, 105], [314, 102],
                [256, 105], [315, 84], [259, 87], [294, 146], [279, 145], [307, 176], [265, 176], [318, 205],
                [253, 206]], float)
BOARD = np.array([33.0, 112.0, 45.0, 134.0])  # the board's false pose: its keypoint box in vtest


def _frames(path: Path, a: int, b: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out, i = [], 0
    while i < b:
        ok, img = cap.read()
        if not ok:
            break
        if i >= a:
            out.append(img)
        i += 1
    cap.release()
    return out


def _poster(image: np.ndarray, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        noisy = np.clip(image.astype(np.int16) + rng.integers(-1, 2, image.shape), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 70 + (i * 7) % 26])
        out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return out


def _kp(xy: np.ndarray) -> np.ndarray:
    return np.hstack([xy, np.ones((len(xy), 1))])


def _box_kp(box: np.ndarray) -> np.ndarray:
    """A COCO-17 pose filling a box (only its box matters to the probe)."""
    x0, y0, x1, y1 = box
    xs = np.linspace(x0, x1, 17)
    ys = np.linspace(y0, y1, 17)
    return _kp(np.stack([xs, ys], axis=1))


def _changes(frames: list[np.ndarray], fps: float, kp: np.ndarray) -> list[float | None]:
    probe = ChangeProbe(fps)
    out = []
    for i, f in enumerate(frames):
        probe.push(i, f)
        out.append(probe.change(i, kp))
    return out


@pytest.mark.skipif(not PRESS.exists(), reason=f"shared data missing: {PRESS}")
def test_a_real_person_holding_still_is_not_static_her_picture_is():
    cfg = StillConfig()
    clip = _frames(PRESS, *STILL)
    assert len(clip) == STILL[1] - STILL[0]
    kp = _kp(HER)
    kps = np.repeat(kp[None], len(clip), axis=0)           # not even her keypoints move
    real = _changes(clip, 29.0, kp)
    got = np.array([c for c in real if c is not None])
    assert len(got) >= cfg.min_measured
    # Breathing, sway and the bar: every measured frame has several times the still share.
    assert float(got.min()) > 3 * cfg.max_change, got
    assert not is_static(real, kps, cfg)
    pic = _changes(_poster(clip[20], len(clip)), 29.0, kp)
    assert is_static(pic, kps, cfg), [c for c in pic if c is not None]


@pytest.mark.skipif(not VTEST.exists(), reason=f"{VTEST} missing (Debian package opencv-doc)")
def test_the_notice_board_in_vtest_is_static_a_pedestrian_is_not():
    clip = _frames(VTEST, 440, 545)                         # the board's longest false track: 450-540
    kp = _box_kp(BOARD)
    changes = _changes(clip, 10.0, kp)
    assert is_static(changes, np.repeat(kp[None], len(clip), axis=0))
    # The same box moved along with the frames' pixels of a walking pedestrian would change;
    # without moving it (a pedestrian's keypoints travel), it is never static either.
    walking = np.stack([_box_kp(BOARD + [3 * i, 0, 3 * i, 0]) for i in range(len(clip))])
    assert not is_static(changes, walking)


needs = needs_pose_models("test_analyze_still", PRESS, SQUAT)


def _write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return folder


def _ids(out: Path) -> dict[int, int]:
    n: dict[int, int] = {}
    for line in (out / "poses.jsonl").read_text().splitlines():
        for p in json.loads(line)["poses"]:
            n[p["id"]] = n.get(p["id"], 0) + 1
    return n


@needs
def test_analyze_drops_a_poster_and_keeps_the_person_holding_still(tmp_path):
    from edgepose.analyze.runner import AnalyzeConfig, analyze

    cfg = AnalyzeConfig(people=2, annotate=False, report=False, folder_fps=29.0)
    clip = _frames(PRESS, *STILL)
    res = analyze(_write_frames(tmp_path / "still", clip), tmp_path / "still_out", cfg)
    ids = _ids(tmp_path / "still_out")
    assert len(ids) == 1 and max(ids.values()) >= len(clip) - 3, ids
    assert res.pass1.static_tracks == 0
    pic = _poster(_frames(SQUAT, 60, 61)[0], len(clip))
    res = analyze(_write_frames(tmp_path / "poster", pic), tmp_path / "poster_out", replace(cfg, folder_fps=30.0))
    assert res.pass1.static_tracks >= 1
    assert _ids(tmp_path / "poster_out") == {}
    assert any("never moved as a body does" in m for m in res.messages)
    # Without the check the poster is a person: the test above would fail for a reason.
    off = analyze(tmp_path / "poster", tmp_path / "poster_off", replace(cfg, folder_fps=30.0, still=None))
    assert off.pass1.static_tracks == 0 and len(_ids(tmp_path / "poster_off")) == 1
