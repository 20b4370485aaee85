"""The pure parts of the MediaPipe baseline tool: BlazePose->COCO mapping, JSONL line shape, scoring.

The baseline venv itself (mediapipe 0.10.14, numpy<2) is a benchmark tool and is never built
here; see docs/benchmarks.md for the measured figures.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgepose.pose import Pose
from edgepose.skeleton import BLAZEPOSE33, COCO17, COCO_FROM_BLAZE

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
SHARED_TOOLS = REPO / ".." / "shared" / "tools"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


worker = _load("_mp_worker", REPO / "tools" / "_mp_worker.py")
baseline = _load("mediapipe_baseline", REPO / "tools" / "mediapipe_baseline.py")


def test_mapping_matches_names_and_shared_scorer():
    assert tuple(worker.BLAZE_TO_COCO17) == COCO_FROM_BLAZE
    assert [BLAZEPOSE33[i] for i in worker.BLAZE_TO_COCO17] == list(COCO17)
    coco_eval = _load("coco_eval", SHARED_TOOLS / "coco_eval.py")
    assert list(worker.BLAZE_TO_COCO17) == coco_eval.BLAZEPOSE_TO_COCO17


def _landmarks(seed: int = 0) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-0.1, 1.1, size=(33, 2))
    vis = rng.uniform(0, 1, size=33)
    return [(float(x), float(y), float(v)) for (x, y), v in zip(xy, vis, strict=True)]


def test_pose_dict_shape_and_pixels():
    lms = _landmarks()
    d = worker.pose_dict(lms, 640, 480)
    assert set(d) == {"id", "score", "box", "layout", "keypoints", "coco17"}
    assert d["id"] is None and d["layout"] == "blazepose33"
    k = np.asarray(d["keypoints"])
    assert k.shape == (33, 3)
    np.testing.assert_allclose(k[:, 0], [x * 640 for x, _, _ in lms], atol=0.01)
    np.testing.assert_allclose(k[:, 1], [y * 480 for _, y, _ in lms], atol=0.01)
    np.testing.assert_allclose(d["score"], np.mean([v for _, _, v in lms]), atol=1e-3)
    c = np.asarray(d["coco17"])
    assert c.shape == (17, 3)
    # left_wrist of COCO (9) is BlazePose 15; right_ankle (16) is BlazePose 28
    np.testing.assert_array_equal(c[9], k[15])
    np.testing.assert_array_equal(c[16], k[28])
    # the same record edgepose writes: Pose round-trip gives the same box and coco17
    p = Pose.from_json(d)
    assert p.to_json()["box"] == pytest.approx(d["box"], abs=0.02)
    np.testing.assert_allclose(p.coco17(), c, atol=1e-3)


def test_pose_dict_refuses_wrong_landmark_count():
    with pytest.raises(ValueError, match="33"):
        worker.pose_dict(_landmarks()[:17], 10, 10)


def test_read_jsonl_names_bad_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"source": "a", "frame": 0, "poses": []}\nnot json\n')
    with pytest.raises(ValueError, match=r"x\.jsonl line 2"):
        baseline.read_jsonl(f)


def _gt_rows(keep_first_only: bool) -> list[dict]:
    """JSONL rows whose poses are the annotations themselves (perfect predictions)."""
    gts, _ = baseline.annotated_images(DATA)
    rows = []
    for f, g in gts.items():
        for im in g["images"]:
            anns = [a for a in g["annotations"] if a["image_id"] == im["id"] and a["num_keypoints"] > 0]
            if keep_first_only:
                anns = anns[:1]
            poses = [{"id": None, "score": 1.0,
                      "coco17": np.asarray(a["keypoints"], float).reshape(17, 3).tolist()} for a in anns]
            rows.append({"source": str(f.parent / im["file_name"]), "frame": 0, "poses": poses})
    return rows


@pytest.mark.skipif(not (DATA / "keypoints").is_dir() or not SHARED_TOOLS.is_dir(),
                    reason="../shared/data or ../shared/tools not present beside the repo")
def test_score_rows_uses_shared_scorer_on_real_ground_truth():
    perfect = baseline.score_rows(_gt_rows(keep_first_only=False), DATA)
    o = perfect["overall"]
    assert o["pck_all"] == 1.0 and o["pck_matched"] == 1.0 and o["recall_people"] == 1.0
    assert o["people"] > 100
    assert set(perfect["per_file"]) >= {"keypoints/coco/coco_person_keypoints.json"}
    # one person per image (what a single-person pipeline can do at best): recall drops, matched stays
    one = baseline.score_rows(_gt_rows(keep_first_only=True), DATA)["overall"]
    assert one["recall_people"] < 0.5
    assert one["pck_matched"] == 1.0
    assert one["pck_all"] < 0.5
    # no rows at all: nothing found
    assert baseline.score_rows([], DATA)["overall"]["recall_people"] == 0.0


def test_saved_baseline_figures_are_consistent():
    """docs/mediapipe_baseline.json is what the engine's tests compare against."""
    d = json.loads((REPO / "docs" / "mediapipe_baseline.json").read_text())
    o = d["images"]["overall"]
    for key in ("pck_all", "pck_matched", "recall_people", "ap_mean", "angle_err_median_deg"):
        assert key in o
    assert 0 < o["pck_all"] <= o["pck_matched"] <= 1
    assert sum(f["people"] for f in d["images"]["per_file"].values()) == o["people"]
    for v in ("walking_toward_camera.mp4", "dance_single_office.mp4"):
        assert 0 <= d["videos"][v]["with_pose_fraction"] <= 1 and d["videos"][v]["fps_process"] > 0
