"""Teach mode: targets from a demonstration, with tolerances from its steadiness."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgepose.evaluate.angles import measure_pose
from edgepose.evaluate.match import match_program
from edgepose.evaluate.synth import front_pose, jittered
from edgepose.evaluate.teach import FLOOR_DEG, K_STD, learn, to_toml
from edgepose.programs import parse_program

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / ".." / "shared" / "data" / "exercise" / "front_raise_side.mp4"  # stands still for 0.6 s


def test_tolerance_follows_the_demonstrations_steadiness(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    steady = [measure_pose(jittered(front_pose(stance=1.5, arms=90), rng, 0.3)) for _ in range(40)]
    shaky = [measure_pose(jittered(front_pose(stance=1.5, arms=90 + rng.normal(0, 6)), rng, 0.3)) for _ in range(40)]
    a = {t.measure: t for t in learn(steady)}
    b = {t.measure: t for t in learn(shaky)}
    assert a["left_shoulder"].tolerance == pytest.approx(FLOOR_DEG)  # floored
    assert b["left_shoulder"].tolerance == pytest.approx(K_STD * b["left_shoulder"].std, rel=1e-6)
    assert b["left_shoulder"].tolerance > 10
    prog = parse_program(to_toml("wide-t", "Wide T", "arms level", list(a.values()), "either", "test"),
                         tmp_path / "wide-t.toml")
    assert match_program(prog, measure_pose(front_pose(stance=1.5, arms=90))).score > 0.95
    assert match_program(prog, measure_pose(front_pose(stance=1.5, arms=150))).score < 0.5
    with pytest.raises(ValueError, match="no demonstration sample"):
        learn([])


@pytest.mark.skipif(not VIDEO.exists(), reason=f"no video at {VIDEO}")
def test_teach_from_a_video_clip(tmp_path: Path) -> None:
    env = {**os.environ, "EDGEPOSE_PROGRAMS": str(tmp_path)}
    p = subprocess.run([sys.executable, "-m", "edgepose.cli", "teach", "standing-tall", "--video", str(VIDEO),
                        "--end", "0.6"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr
    prog = parse_program((tmp_path / "standing-tall.toml").read_text(), tmp_path / "standing-tall.toml")
    knee = next(c for c in prog.checks if c.measure in ("left_knee", "right_knee"))
    assert knee.hi >= 160 and knee.lo > 140  # he stands still, arms down, at the start of the clip
    arm = next(c for c in prog.checks if c.measure in ("left_shoulder", "right_shoulder"))
    assert arm.hi < 45
    bad = subprocess.run([sys.executable, "-m", "edgepose.cli", "teach", "Bad Name", "--video", str(VIDEO)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert bad.returncode == 1 and "lower-case" in bad.stderr
