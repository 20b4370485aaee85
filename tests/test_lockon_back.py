"""Live lock-on (issue 13, part 4): a person seen from behind is found within half a second.

The engine runs as ``edgepose run`` builds it (``EngineConfig.from_config`` of a device config,
video mode through ``make_engine``), on real footage from ``../shared/data`` where the person's
back is to the camera (frames checked by eye, PNGs in the notes of docs/benchmarks.md):

* ``video/dance_single_office.mp4`` (25 fps): frames 168-177 the dancer has turned fully round,
  no face visible, arms out; he turns back towards the camera from about frame 179.
* ``video/dance_trio.mp4`` (30 fps): from frame 248 the dancer on the right shows the camera her
  back (her face turned over her shoulder in profile); the dancer on the left is side-on.

A pose counts only if it lies on the person: its mid-hip in the middle of the person's box and
70 % of its visible body joints inside it, the box given by the person detector run on its own
on that frame (not by the engine). The model's own left/right assignment confirms the back view:
a person facing away has the left shoulder on the image's left.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.config import loads
from edgepose.inference import person_detector as pd
from edgepose.inference import topdown
from edgepose.inference.engine import PERSON_SEARCH_S, EngineConfig, PoseEngine, make_engine
from edgepose.pose import Pose
from tests.conftest import need_data

HALF_SECOND = 0.5
OFFICE_BACK = range(168, 178)   # dance_single_office.mp4: his back to the camera, no face
TRIO_BACK = 248                 # dance_trio.mp4: the right dancer's back to the camera from here


def _frames(clip: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    assert out and fps > 0, clip
    return out, fps


@pytest.fixture(scope="module")
def office():
    return _frames(need_data("video", "dance_single_office.mp4"))


@pytest.fixture(scope="module")
def trio():
    return _frames(need_data("video", "dance_trio.mp4"))


@pytest.fixture(scope="module")
def boxes_of():
    """The person detector on its own, on one frame: the reference for where people are."""
    det = pd.load()
    if det is None:
        pytest.skip("person detector not fetched: edgepose models fetch person-detector")
    return lambda image: [b for b in det.detect(image) if b.score >= 0.5]


def _live_engine(max_people: int) -> PoseEngine:
    # `edgepose run`'s mapping from a device config; 2 threads for this 2-core test machine.
    cfg = EngineConfig.from_config(loads("[model]\nthreads = 2\n"), max_people=max_people)
    assert cfg.person_detector and cfg.motion and cfg.person_every == 3
    if pd.load(cfg.models_dir) is None:  # the face-free detector must be in use
        pytest.skip("person detector not fetched: edgepose models fetch person-detector")
    return make_engine(cfg)


def _on(p: Pose, b: pd.PersonBox) -> bool:
    hip = p.keypoints[[23, 24], :2].mean(0)
    middle = b.x0 + 0.2 * b.width <= hip[0] <= b.x1 - 0.2 * b.width and b.y0 <= hip[1] <= b.y1
    return bool(middle and topdown.box_support(p.keypoints, [b]) >= 0.7)


def _faces_away(p: Pose) -> bool:
    return bool(p.keypoints[11, 0] < p.keypoints[12, 0])  # left shoulder on the image's left


def _lock_on(engine: PoseEngine, frames: list[np.ndarray], fps: float, boxes_of, people: int, t0: float = 0.0
             ) -> tuple[list[float | None], list[Pose | None]]:
    """Feed ``frames`` (the first half second after the start); for each reference person (left to
    right) the clip time from the start until a pose lies on them, and that pose."""
    found: list[float | None] = [None] * people
    first: list[Pose | None] = [None] * people
    for j, f in enumerate(frames[: int(HALF_SECOND * fps) + 1]):
        poses = engine.process(f, t0 + j / fps)
        refs = sorted(boxes_of(f), key=lambda b: -b.score)[:people]
        assert len(refs) == people, f"frame {j}: the reference detector sees {len(refs)} people"
        refs.sort(key=lambda b: b.x0)
        for k, b in enumerate(refs):
            on = [p for p in poses if _on(p, b)]
            assert len(on) <= 1, f"frame {j}: two poses on person {k}"
            if on and found[k] is None:
                found[k], first[k] = j / fps, on[0]
    return found, first


@pytest.mark.parametrize("start", [OFFICE_BACK[0], OFFICE_BACK[3], OFFICE_BACK[6]])
def test_a_dancer_with_his_back_to_the_camera_is_found_within_half_a_second(office, boxes_of, start):
    frames, fps = office
    found, first = _lock_on(_live_engine(1), frames[start:], fps, boxes_of, people=1)
    assert found[0] is not None and found[0] <= HALF_SECOND, f"start {start}: {found}"
    # found while his back is still turned (measured: on the first frame), and the model sees it so
    assert start + round(found[0] * fps) in OFFICE_BACK and _faces_away(first[0])


def _person_free_plate(frames: list[np.ndarray]) -> np.ndarray:
    """The office corridor without the dancer, from the clip's own pixels: each pixel's median over
    the frames (every 5th) where no person box (with a margin; the glass reflection of him too)
    covers it; the strip he never leaves is filled in from its surroundings (cv2.inpaint), which
    draws no person."""
    det = pd.load()
    sel = frames[::5]
    stack = np.stack(sel).astype(np.float32)
    for i, f in enumerate(sel):
        for b in det.detect(f):  # every box, weak ones (the reflection) too
            mx, my = 0.15 * b.width, 0.08 * b.height
            stack[i, max(0, int(b.y0 - my)):int(b.y1 + my) + 1, max(0, int(b.x0 - mx)):int(b.x1 + mx) + 1] = np.nan
    plate = np.empty(stack.shape[1:], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the strip no frame shows: all-NaN, filled below
        for y in range(0, plate.shape[0], 40):  # in bands: a whole-frame nanmedian needs 4x the memory
            plate[y:y + 40] = np.nanmedian(stack[:, y:y + 40], axis=0)
    hole = np.isnan(plate[..., 0]).astype(np.uint8)
    plate = np.nan_to_num(plate).astype(np.uint8)
    return cv2.inpaint(plate, cv2.dilate(hole, np.ones((3, 3), np.uint8)), 7, cv2.INPAINT_TELEA)


def test_he_steps_in_with_his_back_turned_after_an_empty_corridor(office, boxes_of):
    """Half a second of the empty corridor, then he is there with his back turned (a cut to frame 168);
    the appearance falls on each phase of the person detector's every-3-frames schedule."""
    frames, fps = office
    plate = _person_free_plate(frames)
    assert not boxes_of(plate), "the plate still holds a person"
    for empty in (12, 13, 14):
        eng = _live_engine(1)
        assert not any(eng.process(plate, j / fps) for j in range(empty)), "a pose in the empty corridor"
        found, first = _lock_on(eng, frames[OFFICE_BACK[0]:], fps, boxes_of, people=1, t0=empty / fps)
        assert found[0] is not None and found[0] <= HALF_SECOND, f"after {empty} empty frames: {found}"
        assert _faces_away(first[0])


@pytest.mark.parametrize("start", [TRIO_BACK, TRIO_BACK + 6])
def test_trio_with_one_dancer_turned_away_all_three_found_within_half_a_second(trio, boxes_of, start):
    """``edgepose run --max-people 3`` started as the right dancer turns her back: each dancer has a
    pose within half a second, never two poses on one dancer (before the fix, a second estimate of
    the middle dancer took the third place at frame 248 and the left dancer waited 0.5 s)."""
    frames, fps = trio
    found, first = _lock_on(_live_engine(3), frames[start:], fps, boxes_of, people=3)
    assert all(t is not None and t <= HALF_SECOND for t in found), f"start {start}: {found}"
    assert _faces_away(first[2]), "the right dancer is seen from behind"


def test_the_person_detector_runs_only_while_someone_is_missing(office):
    """Its cost: one call to lock on to the office dancer, none while he is tracked (the
    single-person path); with a second place free (``--max-people 2``) it keeps looking, at least
    every PERSON_SEARCH_S of clip time and at most every ``person_every`` frames."""
    frames, fps = office
    eng = _live_engine(1)
    assert all(eng.process(f, j / fps) for j, f in enumerate(frames[:100]))
    assert eng.stats.person_calls == 1
    eng = _live_engine(2)
    calls = []
    for j, f in enumerate(frames[:50]):
        before = eng.stats.person_calls
        eng.process(f, j / fps)
        if eng.stats.person_calls > before:
            calls.append(j)
    gaps = np.diff(calls)
    assert calls[0] == 0 and len(gaps) >= 5
    assert gaps.min() >= eng.config.person_every
    assert gaps.max() / fps <= PERSON_SEARCH_S + 1.0 / fps
