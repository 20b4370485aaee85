"""`edgepose match` on the real yoga photos, its line contract, and teach mode on real photos."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgepose.evaluate.media import match_images
from edgepose.inference.engine import EngineConfig, PoseEngine
from edgepose.programs import list_programs, load_program

ROOT = Path(__file__).resolve().parents[1]
YOGA = ROOT / ".." / "shared" / "data" / "yoga"
LABEL_TO_PROGRAM = {"tree": "tree", "warrior2": "warrior-2", "downward_dog": "downward-dog", "triangle": "triangle",
                    "goddess": "goddess", "chair": "chair", "mountain": "mountain"}
# Measured 2026-11-24 with this code and the float landmark model: 48/49 named right (one warrior II
# photo's back leg is mis-estimated by the engine). The floor leaves room for model changes only.
MIN_ACCURACY = 0.9

pytestmark = pytest.mark.skipif(not (YOGA / "labels.csv").exists(), reason=f"no yoga photos at {YOGA}")


@pytest.fixture(scope="module")
def engine():
    with PoseEngine(EngineConfig(max_people=1)) as e:
        yield e


def test_yoga_photos_are_named_right(engine) -> None:
    rows = list(csv.DictReader(open(YOGA / "labels.csv")))
    paths = [str(YOGA / r["file"]) for r in rows]
    results = list(match_images(paths, engine))
    targets = {i.name for i in list_programs() if i.kind == "pose"}
    right = 0
    for r, res in zip(rows, results, strict=True):
        assert res["source"] == str(YOGA / r["file"])
        assert set(res["scores"]) == targets and all(0.0 <= s <= 1.0 for s in res["scores"].values())
        right += res["best"] == LABEL_TO_PROGRAM[r["pose"]]
    assert right / len(rows) >= MIN_ACCURACY, f"{right}/{len(rows)}"


def test_match_command_lines_and_errors(tmp_path: Path) -> None:
    bad = tmp_path / "not-an-image.jpg"
    bad.write_text("hello")
    photo = str(YOGA / "mountain" / "File40.jpg")
    out = tmp_path / "m.jsonl"
    p = subprocess.run([sys.executable, "-m", "edgepose.cli", "match", photo, str(bad), str(tmp_path / "nope.png"),
                        "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1 and "could not be read" in p.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["source"] for x in lines] == [photo, str(bad), str(tmp_path / "nope.png")]
    assert lines[0]["best"] == "mountain" and "error" not in lines[0]
    assert "error" in lines[1] and "readable" in lines[1]["error"] and lines[1]["best"] is None
    assert "error" in lines[2] and "no such file" in lines[2]["error"]


def test_teach_from_photos_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPOSE_PROGRAMS", str(tmp_path / "progs"))
    photos = sorted(str(p) for p in (YOGA / "goddess").glob("*.jpg"))[:4]
    p = subprocess.run([sys.executable, "-m", "edgepose.cli", "teach", "my-goddess", *photos],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    prog = load_program("my-goddess")
    assert prog.kind == "pose" and prog.path.parent == tmp_path / "progs"
    knees = [c for c in prog.checks if c.measure.endswith("_knee")]
    assert knees and all(60 < c.lo < c.hi < 160 for c in knees)
    assert all(c.hi - c.lo >= 10 - 1e-6 for c in prog.checks if c.measure.endswith("_knee"))  # floor: +-5 deg
    # a goddess photo not used for teaching fits the taught target; a mountain photo does not
    other = sorted(str(p) for p in (YOGA / "goddess").glob("*.jpg"))[-1]
    res = list(match_images([other, str(YOGA / "mountain" / "File40.jpg")]))
    assert res[0]["scores"]["my-goddess"] > res[1]["scores"]["my-goddess"]
    again = subprocess.run([sys.executable, "-m", "edgepose.cli", "teach", "my-goddess", *photos],
                           capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 1 and "--force" in again.stderr
