"""`edgepose analyze` end to end with the real engine: tracking accuracy on the Bonn sequence,
exports, report, annotated video, and bad input (nobody, corrupt, one frame, VFR, truncated)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_tracking_data import BONN, DATA, bonn_gt

from edgepose.analyze.charts import svg_text
from edgepose.analyze.runner import AnalyzeConfig, analyze
from edgepose.analyze.tracking import oks_matrix
from edgepose.cli import main as cli_main
from edgepose.errors import SourceError
from tests.conftest import needs_pose_models

SINGLE = DATA / "video" / "dance_single_office.mp4"


pytestmark = needs_pose_models("test_analyze", BONN)


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def bonn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bonn") / "analysis"
    code = cli_main(["analyze", str(BONN / "frames"), "--out", str(out), "--quiet"])
    return code, out


def _score(rows: list[dict]) -> tuple[int, int, int, list[float]]:
    """(annotated people, found with OKS >= 0.3, id switches, share found per frame), scored like
    check_contracts.py."""
    frames, names = bonn_gt()
    by_name = {Path(r["source"]).name: r for r in rows}
    total = found = switches = 0
    last: dict[int, int] = {}
    per_frame: list[float] = []
    for people, name in zip(frames, names, strict=True):
        poses = by_name[Path(name).name]["poses"]
        total += len(people)
        before = found
        per_frame.append(0.0)
        if not poses:
            continue
        gt = np.array([k for _, k in people])
        pr = np.array([p["coco17"] for p in poses], float)
        box = np.array([[k[k[:, 2] > 0, 0].min(), k[k[:, 2] > 0, 1].min(), k[k[:, 2] > 0, 0].max(),
                         k[k[:, 2] > 0, 1].max()] for k in gt])
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        oks = oks_matrix(gt[:, :, :2], gt[:, :, 2], pr[:, :, :2], np.ones(pr.shape[:2]), area, 0.5)
        taken: set[int] = set()
        for j in np.argsort([-p["score"] for p in poses]):
            i = int(np.argmax(np.where([x in taken for x in range(len(gt))], -1, oks[:, j])))
            if oks[i, j] >= 0.3 and i not in taken:
                taken.add(i)
                found += 1
                tid, pid = people[i][0], poses[j]["id"]
                switches += tid in last and last[tid] != pid
                last[tid] = pid
        per_frame[-1] = (found - before) / len(people)
    return total, found, switches, per_frame


def test_bonn_sequence_every_performer_tracked(bonn_run):
    code, out = bonn_run
    assert code == 0
    rows = _rows(out / "poses.jsonl")
    assert [r["frame"] for r in rows] == list(range(25))
    assert all(Path(r["source"]).parent == BONN / "frames" for r in rows)
    assert all(r["width"] == 960 and r["height"] == 540 for r in rows)
    poses = [p for r in rows for p in r["poses"]]
    assert poses and all(isinstance(p["id"], int) for p in poses)
    assert all(len(p["keypoints"]) == 33 and len(p["coco17"]) == 17 and p["layout"] == "blazepose33" for p in poses)
    total, found, switches, per_frame = _score(rows)
    # Measured on this machine: 99 of 100 found, 0 switches; every person found in 24 of the 25
    # frames -- the woman in green behind the woman in pink (frames 20-25) is followed with the
    # one in front painted out (edgepose.analyze.backward); 94 and 19 frames before
    # (docs/benchmarks.md). Floors (the target of issue 13: recall >= 0.97, 0 switches):
    assert total == 100
    assert found / total >= 0.97
    assert switches == 0
    assert min(per_frame) >= 0.75 and sum(f == 1.0 for f in per_frame) >= 23


def test_bonn_exports_report_and_video(bonn_run):
    _, out = bonn_run
    rows = _rows(out / "poses.jsonl")
    ids = sorted({p["id"] for r in rows for p in r["poses"]})
    for i in ids:
        with open(out / "performers" / f"performer_{i}.csv") as fh:
            table = list(csv.reader(fh))
        assert len(table[0]) == 4 + 33 * 3 and table[0][:4] == ["frame", "t", "id", "score"]
        seen = [int(r["frame"]) for r in rows for p in r["poses"] if p["id"] == i]
        assert [int(x[0]) for x in table[1:]] == seen
        lines = _rows(out / "performers" / f"performer_{i}.jsonl")
        assert [x["frame"] for x in lines] == seen and all(len(x["keypoints"]) == 33 for x in lines)
    sync = json.loads((out / "sync.json").read_text())
    # The four women are the performers; the bag and the reflections the engine also reports
    # (short-lived or low-visibility ids) are exported but not scored.
    assert len(sync["ids"]) == 4 and len(sync["pairs"]) == 6
    assert set(sync["ids"]) <= set(ids)
    page = (out / "report.html").read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)          # no network assets
    charts = re.findall(r"<figure class='chart'>(.*?)</figure>", page, re.S)
    assert len(charts) == 3 and all(c.startswith("<svg") for c in charts)  # inline SVG, text kept as text
    words = [svg_text(c) for c in charts]
    assert all("time (s)" in w for w in words)  # every chart names its axes ...
    assert "sync score (1 = together)" in words[0] and "deviation (deg)" in words[1]
    pairs = {f"#{p['a']} &amp; #{p['b']}" for p in sync["pairs"]}
    assert pairs <= set(words[0]) and "group (all performers)" in words[0]  # ... and tells its lines apart
    assert len(set(re.findall(r"stroke: ?(#[0-9a-f]{6})", charts[0]))) >= len(pairs) + 1
    assert "Best moments" in page and "Worst moments" in page
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 25 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 960


def test_corrupt_file_is_refused_with_its_name(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(SourceError, match="broken.mp4.*not a video"):
        analyze(bad, tmp_path / "out")
    assert cli_main(["analyze", str(bad), "--out", str(tmp_path / "o2"), "--quiet"]) == 1
    assert "broken.mp4" in capsys.readouterr().err
    with pytest.raises(SourceError, match="no such file"):
        analyze(tmp_path / "missing.mp4", tmp_path / "o3")


def test_video_with_nobody_one_frame_and_vfr(tmp_path):
    from test_analyze_videos import read_frames, write_video

    pytest.importorskip("av", reason="PyAV (dev extra) writes the test videos")
    # Nobody: the empty lake above the paddlers in the Bonn frames.
    lake = [cv2.imread(str(BONN / "frames" / f"{i:05d}.jpg"))[0:60, 0:960] for i in range(1, 9)]
    lake = [cv2.resize(x, (480, 240)) for x in lake]
    res = analyze(write_video(tmp_path / "nobody.mp4", lake), tmp_path / "nobody", AnalyzeConfig(people=2))
    assert res.pass1.frames == 8 and not res.failed
    assert any("nobody was found" in m for m in res.messages)
    assert [len(r["poses"]) for r in _rows(tmp_path / "nobody" / "poses.jsonl")] == [0] * 8
    assert "nobody was found" in (tmp_path / "nobody" / "report.html").read_text()

    # One frame.
    one = read_frames(SINGLE, 1)
    res = analyze(write_video(tmp_path / "one.mp4", one), tmp_path / "one", AnalyzeConfig(people=1))
    rows = _rows(tmp_path / "one" / "poses.jsonl")
    assert len(rows) == 1 and rows[0]["t"] == 0.0 and len(rows[0]["poses"]) == 1
    assert any("single frame" in m for m in res.messages)

    # Variable frame rate: 60 ms and 20 ms gaps alternate; times come from the file.
    frames = read_frames(SINGLE, 30)
    times = np.cumsum([0.0] + [0.06 if i % 2 == 0 else 0.02 for i in range(29)])
    res = analyze(write_video(tmp_path / "vfr.mp4", frames, list(times)), tmp_path / "vfr",
                  AnalyzeConfig(people=1, annotate=False))
    rows = _rows(tmp_path / "vfr" / "poses.jsonl")
    assert res.pass1.vfr and any("variable frame rate" in m for m in res.messages)
    assert np.allclose([r["t"] for r in rows], times, atol=0.002)


def test_truncated_file_keeps_the_frames_read(tmp_path):
    from test_analyze_videos import read_frames, write_video

    pytest.importorskip("av", reason="PyAV (dev extra) writes the test videos")
    full = write_video(tmp_path / "full.mp4", read_frames(SINGLE, 50))
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    res = analyze(cut, tmp_path / "cut", AnalyzeConfig(people=1, annotate=False, report=False))
    rows = _rows(tmp_path / "cut" / "poses.jsonl")
    assert res.pass1.truncated and 5 < len(rows) < 50
    assert [r["frame"] for r in rows] == list(range(len(rows)))
    assert sum(len(r["poses"]) for r in rows) >= len(rows) - 3
    assert any("truncated" in m for m in res.messages)


def test_folder_with_a_corrupt_frame_keeps_going_and_says_which(tmp_path):
    import shutil

    src = tmp_path / "frames"
    src.mkdir()
    for i in (1, 2, 4, 5):
        shutil.copy(BONN / "frames" / f"{i:05d}.jpg", src / f"{i:05d}.jpg")
    (src / "00003.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (src / "notes.txt").write_text("not a frame")
    res = analyze(src, tmp_path / "out", AnalyzeConfig(people=4, annotate=False, report=False))
    rows = _rows(tmp_path / "out" / "poses.jsonl")
    assert [Path(r["source"]).name for r in rows] == [f"{i:05d}.jpg" for i in range(1, 6)]
    assert "00003.jpg" in rows[2]["error"] and rows[2]["poses"] == []
    assert all(r["poses"] for r in rows if "error" not in r)
    assert res.pass1.unreadable == 1 and any("could not be decoded" in m for m in res.messages)


def test_progress_bar_shows_fps_and_eta():
    import io

    from edgepose.analyze.runner import Progress

    buf = io.StringIO()
    bar = Progress(100, buf)
    bar(50, True)
    line = buf.getvalue()
    assert "50/100 frames" in line and "fps" in line and "ETA" in line


def test_default_output_folder_and_bad_people_count(tmp_path, monkeypatch, capsys):
    import shutil

    clip = tmp_path / "paddlers"
    clip.mkdir()
    for i in (1, 2, 3):
        shutil.copy(BONN / "frames" / f"{i:05d}.jpg", clip)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["analyze", str(clip), "--quiet", "--no-video", "--no-report"]) == 0
    rows = _rows(tmp_path / "paddlers_analysis" / "poses.jsonl")
    assert len(rows) == 3 and rows[1]["t"] == pytest.approx(1 / 30, abs=1e-4)
    assert "performers" in capsys.readouterr().out
    assert cli_main(["analyze", str(clip), "--people", "0"]) == 2
    assert "--people" in capsys.readouterr().err


def test_real_dancer_who_leaves_for_two_seconds_comes_back_with_the_same_id():
    """Two real dancers side by side; the right one is hidden for 50 frames (longer than the
    tracker coasts), then returns: re-identification gives the old id back."""
    from edgepose.analyze.runner import make_engine
    from edgepose.analyze.tracking import Tracker
    from edgepose.bench.analyze import grid_frames

    clip = grid_frames(SINGLE, 2, 100)
    for f in range(20, 70):
        clip[f][:, 480:] = clip[f][:, 480:].mean(axis=(0, 1)).astype(np.uint8)
    engine, tracker = make_engine(AnalyzeConfig(people=4)), Tracker()
    kept = [tracker.update(engine.process(img, i / 25), img) for i, img in enumerate(clip)]
    tracker.finish()

    def right(f):  # the dancer of the right cell (its glass wall reflection stands at x > 880)
        return [p.id for p in kept[f] if p.id is not None and 560 < p.box()[0] + p.box()[2] / 2 < 860]

    before = {i for f in range(3, 19) for i in right(f)}
    after = {i for f in range(75, 100) for i in right(f)}
    assert not any(right(f) for f in range(25, 68))
    assert len(before) == 1 and after == before and tracker.id_revivals >= 1
