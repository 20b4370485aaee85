"""Keypoint accuracy of the pose engine on the shared human-annotated images, against MediaPipe."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def scored(still_poses, shared_tools, data_dir):
    cc, coco_eval = shared_tools
    gts = {f: coco_eval.normalise_gt(json.load(open(f)))[0] for f in cc.gt_files(data_dir)}
    cache: dict = {}

    def poses_of(f, im):
        p = (f.parent / im["file_name"]).resolve()
        if p not in cache:
            cache[p] = [x.to_json() for x in still_poses.detect_image(cv2.imread(str(p)))]
        return cache[p]

    result = cc.score_poses(gts, poses_of)
    return result, gts, cache


def test_pck_and_recall_floors(scored):
    r, _, _ = scored
    # Measured 2026-11-24 (x86, float landmark model): PCK@0.2 all 0.874, matched 0.975,
    # people recall 0.895, OKS AP 0.499, median angle error 3.67 deg over 133 people.
    # 2026-12-01 with the person detector (issue 13; fetched by tools/quickstart.sh): PCK all
    # 0.904, matched 0.974, recall 0.925, AP 0.507, angle error 3.84 deg.
    assert r["people"] >= 100
    assert r["pck_all"] >= 0.89
    assert r["pck_matched"] >= 0.96
    assert r["recall_people"] >= 0.91
    assert r["angle_err_median_deg"] <= 4.5
    if r["ap_mean"] is not None:
        assert r["ap_mean"] >= 0.48


def test_beats_mediapipe_pipeline_on_same_images(scored):
    """The anchor: MediaPipe's own Pose solution (same two models), docs/mediapipe_baseline.json."""
    r, _, _ = scored
    base = json.loads((ROOT / "docs" / "mediapipe_baseline.json").read_text())["images"]["overall"]
    assert r["pck_all"] >= 1.5 * base["pck_all"]
    assert r["pck_matched"] >= base["pck_matched"]
    if r["ap_mean"] is not None and base.get("ap_mean") is not None:
        assert r["ap_mean"] > base["ap_mean"]


def _visible(ann: dict, marks_visibility: bool) -> int:
    """COCO's v=2 (labelled and visible); PoseTrack marks every labelled point v=1, so there a
    labelled point counts as visible."""
    v = np.asarray(ann["keypoints"]).reshape(17, 3)[:, 2]
    return int((v == 2).sum()) if marks_visibility else int((v > 0).sum())


def test_well_visible_people_are_found(scored, shared_tools):
    """People with at least 10 visible (and, separately, 10 labelled) keypoints are found.

    The misses are explained by tools/recall_misses.py (docs/benchmarks.md): with the landmark
    model shown exactly where each missed person is, most still give no pose of their own (hidden
    behind someone found, or the model's own pose flag stays low).
    """
    cc, _ = shared_tools
    _, gts, cache = scored
    counts = {"visible": [0, 0], "labelled": [0, 0]}
    for f, g in gts.items():
        marks = any(v == 2 for a in g["annotations"] for v in a["keypoints"][2::3])
        for im in g["images"]:
            poses = cache[(f.parent / im["file_name"]).resolve()]
            dk = [np.asarray(p["coco17"], float) for p in poses]
            sc = [p["score"] for p in poses]
            mine = [a for a in g["annotations"] if a["image_id"] == im["id"]]
            for kind, anns in (("visible", [a for a in mine if _visible(a, marks) >= 10]),
                               ("labelled", [a for a in mine if a["num_keypoints"] >= 10])):
                counts[kind][0] += len(cc.greedy_matches(anns, dk, sc, 0.1))
                counts[kind][1] += len(anns)
    print({k: f"{f} of {t}" for k, (f, t) in counts.items()})
    # Measured 2026-11-24: >= 10 visible: 109 of 116 (0.94); >= 10 labelled: 113 of 127 (0.89).
    # 2026-12-01 with the person detector: >= 10 visible 113 of 116 (0.974).
    found, total = counts["visible"]
    assert total >= 100 and found / total >= 0.96
    found, total = counts["labelled"]
    assert total >= 100 and found / total >= 0.87
