"""What a new user meets in the first hour: commands that say what they did, errors that suggest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.commands.match import terminal_line
from edgepose.errors import ProgramError
from edgepose.live.sinks import letterbox
from edgepose.programs import load_program

REPO = Path(__file__).resolve().parents[1]
EDGEPOSE = [sys.executable, "-m", "edgepose.cli"]


def test_a_misspelt_program_gets_a_suggestion():
    with pytest.raises(ProgramError, match=r"did you mean 'squat'\?"):
        load_program("squats")
    with pytest.raises(ProgramError) as e:
        load_program("zzzz")
    assert "did you mean" not in str(e.value) and "known programs" in str(e.value)


def test_match_terminal_lines_say_the_best_pose_or_why_not():
    assert terminal_line({"source": "a.jpg", "best": "tree", "scores": {"tree": 0.91, "chair": 0.2},
                          "people": 1, "mirrored": True}) == "a.jpg: tree 0.91, mirrored"
    assert terminal_line({"source": "b.jpg", "best": None, "scores": {"tree": 0.31, "chair": 0.2},
                          "people": 1}) == "b.jpg: no target pose (closest: tree 0.31)"
    assert terminal_line({"source": "c.jpg", "best": None, "scores": {}, "people": 0}) == "c.jpg: no person found"
    assert terminal_line({"source": "d.txt", "error": "not an image"}).startswith("d.txt: error:")


def test_match_prints_one_line_per_image(data_dir, tmp_path):
    photos = sorted((data_dir / "yoga" / "tree").glob("*.jpg"))[:2]
    out = tmp_path / "m.jsonl"
    p = subprocess.run([*EDGEPOSE, "match", *map(str, photos), "--out", str(out)], capture_output=True,
                       text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == len(photos)
    for photo, line in zip(photos, lines, strict=True):
        assert line.startswith(f"{photo}: tree "), line
    assert len(out.read_text().splitlines()) == len(photos)


def test_letterbox_keeps_the_aspect_and_centres():
    img = np.full((100, 200, 3), 255, np.uint8)
    out = letterbox(img, (300, 300))
    assert out.shape == (300, 300, 3)
    rows = np.where(out[:, 150, 0] == 255)[0]
    assert rows.min() == 75 and rows.max() == 224  # 150 rows of picture, centred
    assert out[0, 0].sum() == 0 and out[299, 299].sum() == 0


def test_recording_a_folder_of_photos_of_different_sizes_keeps_every_frame(data_dir, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = set()
    for src in sorted((data_dir / "yoga" / "tree").glob("*.jpg"))[:3] + sorted(
            (data_dir / "keypoints" / "coco").glob("*.jpg"))[:2]:
        shutil.copy(src, folder / src.name)
        sizes.add(cv2.imread(str(src)).shape[:2])
    assert len(sizes) >= 3, "the test needs photos of different sizes"
    out = tmp_path / "out.mp4"
    p = subprocess.run([*EDGEPOSE, "run", "--source", str(folder), "--record", str(out)], capture_output=True,
                       text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Failed to write" not in p.stderr
    cap = cv2.VideoCapture(str(out))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 5


def test_doctor_advice_fits_the_machine(tmp_path):
    from edgepose.appliance.doctor import check_camera, machine_kind
    from edgepose.config import loads

    pi = tmp_path / "model"
    pi.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert machine_kind(pi, tmp_path / "none")[0] == "rpi"
    jetson = tmp_path / "jmodel"
    jetson.write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    assert machine_kind(jetson, tmp_path / "none")[0] == "jetson"
    assert machine_kind(tmp_path / "absent", tmp_path / "none")[0] == "other"

    cfg = loads('[camera]\nsource = "picam"')
    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is importable here: the advice for a missing one cannot be shown")
    except ImportError:
        pass
    desk = check_camera(cfg, ("other", "x86_64 Linux machine"))
    assert not desk.ok and "not needed here" in desk.detail and "apt-get" not in desk.detail
    assert "camera.source = 0" in desk.detail
    onpi = check_camera(cfg, ("rpi", "Raspberry Pi 5"))
    assert "apt-get install python3-picamera2" in onpi.detail
    assert "nvarguscamerasrc" in check_camera(cfg, ("jetson", "Jetson")).detail


def test_config_init_writes_the_commented_example_that_serve_accepts(tmp_path):
    target = tmp_path / "etc" / "edgepose.toml"
    run = lambda *a: subprocess.run([*EDGEPOSE, "config", *a], capture_output=True, text=True, cwd=REPO,  # noqa: E731
                                    timeout=60)
    p = run("init", str(target), "--board", "rpi5")
    assert p.returncode == 0, p.stderr
    assert target.read_bytes() == (REPO / "firmware" / "edgepose.example.toml").read_bytes()
    assert f"edgepose serve --config {target}" in p.stdout
    again = run("init", str(target))
    assert again.returncode == 1 and "exists" in again.stderr
    assert run("check", str(target)).stdout.strip() == f"{target}: ok"
    j = tmp_path / "j.toml"
    assert run("init", str(j), "--board", "jetson").returncode == 0
    assert "nvarguscamerasrc" in j.read_text()
    s = subprocess.run([*EDGEPOSE, "serve", "--config", str(tmp_path / "missing.toml")], capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    assert s.returncode == 1 and f"edgepose config init {tmp_path / 'missing.toml'}" in s.stderr
