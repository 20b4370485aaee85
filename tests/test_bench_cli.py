"""`edgepose bench` runs on this machine and reports what it measured."""

from __future__ import annotations

import json

from edgepose.cli import main
from tests.conftest import need_data


def test_bench_reports_model_and_pipeline_figures(capsys):
    video = need_data("exercise", "jump_rope_quva023.mp4")
    assert main(["bench", "--json", "--video", str(video)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["runtime"].startswith(("ai_edge_litert", "tflite_runtime"))
    assert res["detector_ms"] > 0 and res["landmark_ms"]["float"] > 0
    p = res["pipeline"]
    assert p["model_only_fps"] > 0 and p["pipeline_fps"] > 0 and p["sequential_fps"] > 0
    # the pipeline fed decoded frames does the same work as the model alone: same order of speed
    assert 0.5 < p["pipeline_decoded_vs_model_only"] < 2.0
    assert res["tracked_frame_ms"] > 0 and res["peak_rss_mb"] > 0
