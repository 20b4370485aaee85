"""The parity check's comparison (tools/aarch64_parity.py) on real annotated people.

The emulated run itself takes tens of minutes and is not part of the suite; what is checked here
is that the instrument pairs people by who they are, not by rank, and measures what moved.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tests.conftest import need_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from aarch64_parity import compare  # noqa: E402


def _people(image_id: int) -> list[dict]:
    """The annotated people of one COCO image, as `edgepose infer` poses (largest first)."""
    ann = json.loads(need_data("keypoints", "coco", "coco_person_keypoints.json").read_text())
    poses = []
    for a in ann["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        if a["image_id"] != image_id or (kp[:, 2] > 0).sum() < 8:
            continue
        seen = kp[:, 2] > 0
        kp[~seen, :2] = kp[seen, :2].mean(0)  # unlabelled points: at the body's centre, not visible
        kp[:, 2] = np.where(seen, 0.9, 0.1)
        x0, y0 = kp[:, :2].min(0)
        x1, y1 = kp[:, :2].max(0)
        poses.append({"score": 0.9, "box": [x0, y0, x1 - x0, y1 - y0], "keypoints": kp.tolist()})
    return sorted(poses, key=lambda p: -p["box"][3])


def _write(path: Path, poses: list[dict]) -> Path:
    path.write_text(json.dumps({"source": "img.jpg", "frame": 0, "poses": poses}) + "\n")
    return path


def test_pairs_people_by_identity_and_measures_the_shift(tmp_path):
    nat = _people(197388)
    assert len(nat) >= 4
    emu = [json.loads(json.dumps(p)) for p in reversed(nat[:-1])]  # other order, the last one lost
    moved = emu[0]  # native rank len(nat) - 2
    for k in moved["keypoints"]:
        k[0] += 3.0
        k[1] += 4.0
    moved["keypoints"][5][1] += 12.0  # one point 5 px + a further 12 px down: 3-4-5 then (3, 16)
    r = compare(_write(tmp_path / "n.jsonl", nat), _write(tmp_path / "e.jsonl", emu))
    img = r["images"]["img.jpg"]
    assert (img["poses_x86"], img["poses_arm"]) == (len(nat), len(nat) - 1)
    assert [p["rank_x86"] for p in img["people"]] == list(range(len(nat) - 1))
    assert [p["rank_arm"] for p in img["people"]] == list(range(len(nat) - 2, -1, -1))
    shifted = img["people"][len(nat) - 2]
    assert shifted["median_px"] == 5.0
    assert abs(shifted["max_px"] - np.hypot(3, 16)) < 0.01
    assert all(p["max_px"] == 0 for p in img["people"] if p is not shifted)
    assert [p["rank"] for p in img["only_x86"]] == [len(nat) - 1] and img["only_arm"] == []
    assert r["summary"]["rank_changes"] == len(nat) - 1 - (len(nat) % 2 == 0)


def test_a_person_moved_by_a_body_height_is_not_the_same_person(tmp_path):
    nat = _people(197388)[:2]
    emu = json.loads(json.dumps(nat))
    h = emu[1]["box"][3]
    for k in emu[1]["keypoints"]:
        k[0] += 3 * h  # beyond every native person: not a pair
    r = compare(_write(tmp_path / "n.jsonl", nat), _write(tmp_path / "e.jsonl", emu))
    img = r["images"]["img.jpg"]
    assert [(p["rank_x86"], p["rank_arm"], p["max_px"]) for p in img["people"]] == [(0, 0, 0.0)]
    assert [p["rank"] for p in img["only_x86"]] == [1] and [p["rank"] for p in img["only_arm"]] == [1]
    assert r["summary"]["matched"] == 1
