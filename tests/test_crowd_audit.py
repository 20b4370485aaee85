"""tools/crowd_audit.py score: coverage, wrong identities and object poses as defined, against
our vtest annotation (tests/data/vtest_audit.json) with tracks whose errors are known."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from crowd_audit import score  # noqa: E402

AUDIT = json.loads((Path(__file__).parent / "data" / "vtest_audit.json").read_text())
LABELS = sorted(AUDIT["people"])


def _pose(pid: int, box) -> dict:
    """A COCO-17 pose filling ``box`` (x1, y1, x2, y2), every keypoint visible."""
    x0, y0, x1, y1 = box
    k = np.column_stack([np.linspace(x0, x1, 17), np.linspace(y0, y1, 17), np.ones(17)])
    return {"id": pid, "coco17": k.tolist(), "keypoints": k.tolist()}


def _write(tmp_path: Path, poses_of) -> Path:
    path = tmp_path / "poses.jsonl"
    with open(path, "w") as fh:
        for f in range(795):
            fh.write(json.dumps({"frame": f, "t": f / 10, "poses": poses_of(f)}) + "\n")
    return path


def _perfect(f: int, swap_at: int | None = None) -> list[dict]:
    """Every annotated person of frame ``f`` with the id of their label."""
    out = []
    for a in AUDIT["frames"].get(str(f), []):
        pid = LABELS.index(a["p"])
        if swap_at is not None and f >= swap_at and a["p"] in ("G", "H"):
            pid = LABELS.index("H" if a["p"] == "G" else "G")
        out.append(_pose(pid, a["box"]))
    return out


def test_annotation_is_what_the_docs_say():
    assert AUDIT["people_count"] == 11
    assert len(AUDIT["frames"]) == 12
    assert sum(len(v) for v in AUDIT["frames"].values()) == 64
    for people in AUDIT["frames"].values():
        assert all(a["p"] in AUDIT["people"] for a in people)
        assert len({a["p"] for a in people}) == len(people)       # one box per person and frame


def test_a_perfect_track_scores_full_coverage_and_one_id_per_person(tmp_path):
    s = score(AUDIT, _write(tmp_path, _perfect))
    assert s["coverage"] == 1.0 and s["worst_frame_coverage"] == 1.0
    assert s["ids_mixing_people"] == {} and s["object_poses"] == 0


def test_missed_people_swaps_and_the_board_are_counted(tmp_path):
    board = AUDIT["objects"][0]["box"]

    def poses(f):
        ps = [p for p in _perfect(f, swap_at=400) if not (f == 99 and p["id"] == LABELS.index("A"))]
        if 290 <= f < 340:                              # a false pose on the board, 50 frames
            ps.append(_pose(99, [board[0] + 6, board[1] + 4, board[2] - 8, board[3] - 7]))
        return ps

    s = score(AUDIT, _write(tmp_path, poses))
    assert s["coverage"] == round(63 / 64, 4)
    assert s["per_frame"][99] == {"visible": 5, "tracked": 4, "poses": 4}
    mixed = {tuple(v) for v in s["ids_mixing_people"].values()}
    assert mixed == {("G", "H")} and len(s["ids_mixing_people"]) == 2
    assert s["object_ids"] == [99] and s["object_poses"] == 50
    # A pose on the board (frame 298 has one) is not a tracked person: it covers nobody.
    assert s["per_frame"][298] == {"visible": 6, "tracked": 6, "poses": 7}
