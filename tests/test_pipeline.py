"""The capture → infer → evaluate pipeline: hand-over rules, failures, shutdown, the run contract."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from edgepose.capture.frame import Frame
from edgepose.live.pipeline import Mailbox, Pipeline, PipelineError
from tests.conftest import ROOT, need_data


def test_mailbox_latest_wins_and_counts_drops():
    m = Mailbox()
    for i in range(5):
        m.put(i)
    assert m.get(0.1) == 4
    assert m.dropped == 4


class _ListSource:
    """Frames from memory; ``live`` decides which hand-over the pipeline uses."""

    def __init__(self, n: int, live: bool, interval: float = 0.0):
        self.name, self.live, self.fps, self.frame_count = "mem", live, 30.0, n
        self.n, self.interval = n, interval
        self.closed = threading.Event()

    def frames(self):
        for i in range(self.n):
            if self.closed.is_set():
                return
            if self.interval:
                time.sleep(self.interval)
            yield Frame(i, time.monotonic_ns(), np.zeros((8, 8, 3), np.uint8), i / 30.0, "mem")

    def close(self):
        self.closed.set()


def test_file_source_is_lossless_and_in_order():
    seen = []
    pipe = Pipeline(_ListSource(200, live=False), lambda f: (time.sleep(0.001), [])[1], None,
                    [lambda r: seen.append(r.frame.seq)])
    stats = pipe.run()
    assert seen == list(range(200))
    assert stats.frames_out == 200 and stats.dropped == 0


def test_live_source_drops_stale_frames_and_stays_one_frame_deep():
    pipe = Pipeline(_ListSource(300, live=True, interval=0.001), lambda f: (time.sleep(0.01), [])[1])
    stats = pipe.run()
    assert stats.dropped > 100
    assert stats.frames_out + stats.dropped == stats.frames_in == 300
    # Queueing before inference is at most about one inference time, never a backlog.
    assert stats.capture.summary()["p95"] < 60


@pytest.mark.parametrize("stage", ["infer", "evaluate"])
def test_a_failing_stage_stops_everything_and_is_named(stage):
    def boom(_):
        raise RuntimeError("kaput")

    src = _ListSource(10_000, live=False)
    pipe = Pipeline(src, boom if stage == "infer" else (lambda f: []),
                    boom if stage == "evaluate" else None)
    with pytest.raises(PipelineError, match=f"{stage} stage failed: RuntimeError: kaput"):
        pipe.run()
    assert not any(t.is_alive() for t in pipe._threads)


def test_run_writes_one_line_per_frame(tmp_path):
    from edgepose.cli import main

    video = need_data("exercise", "jump_rope_quva023.mp4")
    out, summ = tmp_path / "p.jsonl", tmp_path / "s.json"
    assert main(["run", "--source", str(video), "--poses", str(out), "--summary", str(summ), "--quiet"]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 124  # every decodable frame of the clip
    assert [r["frame"] for r in rows] == list(range(124))
    assert sum(1 for r in rows if r["poses"]) >= 120
    s = json.loads(summ.read_text())
    assert s["program"] == "poses" and s["pipeline"]["frames_out"] == 124


def test_sigterm_ends_a_run_cleanly_with_its_summary(tmp_path):
    video = need_data("exercise", "floor_dumbbell_press_quva013.mp4")
    summ, poses = tmp_path / "s.json", tmp_path / "p.jsonl"
    exe = [sys.executable, "-c", "import sys; from edgepose.cli import main; sys.exit(main())"]
    p = subprocess.Popen([*exe, "run", "--source", str(video), "--summary", str(summ), "--poses", str(poses),
                          "--quiet"], cwd=ROOT, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    # Signal once the session is under way (the poses file fills 30 lines at a time).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not poses.exists() or poses.stat().st_size == 0):
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    s = json.loads(summ.read_text())
    assert 0 < s["pipeline"]["frames_out"] < 657  # stopped early, and said how far it got
    assert len(poses.read_text().splitlines()) == s["pipeline"]["frames_out"]  # nothing half-written


def test_infer_cli_contract(tmp_path):
    from edgepose.cli import main

    img = need_data("keypoints", "coco", "000000000785.jpg")
    # a folder of real frames (three of the Bonn clip's 25, copied last first): a folder is images
    # one by one in name order, so three show that as well as 25 did, in an eighth of the time
    folder = tmp_path / "frames"
    folder.mkdir()
    for f in sorted(need_data("tracking", "bonn_060470979", "frames").iterdir())[::-12]:
        shutil.copyfile(f, folder / f.name)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    out = tmp_path / "o.jsonl"
    rc = main(["infer", str(img), str(bad), str(folder), "--out", str(out), "--quiet"])
    assert rc == 1  # one input failed
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 1 + 1 + 3
    assert rows[0]["source"] == str(img) and rows[0]["width"] == 640 and rows[0]["height"] == 425
    p = rows[0]["poses"][0]
    assert p["layout"] == "blazepose33" and len(p["keypoints"]) == 33 and len(p["coco17"]) == 17
    assert 0 <= p["score"] <= 1 and p["id"] is None
    assert "error" in rows[1] and rows[1]["poses"] == []
    assert [r["source"].rsplit("/", 1)[-1] for r in rows[2:]] == sorted(f.name for f in folder.iterdir())
    assert all(r["poses"] for r in rows[2:])  # four women in every frame
