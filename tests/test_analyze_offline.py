"""`edgepose analyze`'s offline identity on real footage, with the real engine: the backward pass
tracks a person from the first frame they are visible in, fragments are joined into the real
people (never two people who are in view together), and one body gets one pose."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from test_tracking_data import DATA

from edgepose.analyze.relink import one_body
from edgepose.analyze.runner import AnalyzeConfig, analyze
from tests.conftest import needs_pose_models

SINGLE = DATA / "video" / "dance_single_office.mp4"
TRIO = DATA / "video" / "dance_trio.mp4"


pytestmark = needs_pose_models("test_analyze_offline", SINGLE, TRIO)

FAST = AnalyzeConfig(people=4, annotate=False, report=False)


def _write(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


def _rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "poses.jsonl").read_text().splitlines() if x.strip()]


def _two_dancers(n: int) -> list[np.ndarray]:
    from edgepose.bench.analyze import grid_frames

    return grid_frames(SINGLE, 2, n)


def _right(row: dict) -> list[int]:
    """Ids of the dancer of the right cell (the glass-wall reflection stands at x > 880)."""
    return [p["id"] for p in row["poses"] if 560 < p["box"][0] + p["box"][2] / 2 < 860]


def test_backward_pass_tracks_a_dancer_from_the_first_frame_she_is_visible(tmp_path):
    """The right dancer is hidden in frame 0 only: the engine finds her at its next search (10
    frames later, the left dancer being tracked); the backward pass walks her track back to
    frame 1."""
    clip = _two_dancers(40)
    clip[0][:, 480:] = clip[0][:, 480:].mean(axis=(0, 1)).astype(np.uint8)
    src = _write(tmp_path / "two.avi", clip, 25)
    res = analyze(src, tmp_path / "on", FAST)
    first = min(r["frame"] for r in _rows(tmp_path / "on") if _right(r))
    assert first <= 2, first
    assert res.pass1.backward_poses >= 6
    analyze(src, tmp_path / "off", replace(FAST, backward=None))
    first_off = min(r["frame"] for r in _rows(tmp_path / "off") if _right(r))
    assert first_off >= 5            # without it she starts where the search found her


def test_dancer_hidden_for_two_seconds_is_joined_and_the_two_never_share_an_id(tmp_path):
    clip = _two_dancers(100)
    for f in range(20, 70):
        clip[f][:, 480:] = clip[f][:, 480:].mean(axis=(0, 1)).astype(np.uint8)
    src = _write(tmp_path / "gap.avi", clip, 25)
    # The online tracker's own re-identification off: the offline joining must do it.
    from edgepose.analyze.tracking import TrackerConfig

    cfg = replace(FAST, tracker=TrackerConfig(reid_max_cost=-1.0))
    analyze(src, tmp_path / "out", cfg)
    rows = _rows(tmp_path / "out")
    before = {i for r in rows[3:19] for i in _right(r)}
    after = {i for r in rows[75:100] for i in _right(r)}
    assert len(before) == 1 and after == before
    for r in rows:
        ids = [p["id"] for p in r["poses"]]
        assert len(ids) == len(set(ids))                      # no id twice in a frame
    left = {p["id"] for r in rows for p in r["poses"] if p["box"][0] + p["box"][2] / 2 < 400}
    assert not left & before


def test_trio_excerpt_three_ids_and_one_pose_per_body(tmp_path):
    cap = cv2.VideoCapture(str(TRIO))
    frames = []
    while len(frames) < 75:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    src = _write(tmp_path / "trio.avi", frames, 30)
    res = analyze(src, tmp_path / "out", replace(FAST, people=6))
    rows = _rows(tmp_path / "out")
    long_ids = {i for i in {p["id"] for r in rows for p in r["poses"]}
                if sum(p["id"] == i for r in rows for p in r["poses"]) > 30}
    assert len(long_ids) == 3, (long_ids, res.messages)
    dup = 0
    for r in rows:
        k = [np.asarray(p["coco17"], float) for p in r["poses"]]
        dup += any(one_body(k[i], k[j]) for i in range(len(k)) for j in range(i + 1, len(k)))
    assert dup <= 0.02 * len(rows)
