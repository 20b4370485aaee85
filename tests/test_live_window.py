"""The live window as a person sees it: `edgepose run --display` under a real X server (Xvfb).

Screenshots are taken from the X server (ImageMagick `import`), keys are typed with xdotool and
the window is closed the way a window manager's close button does it (WM_DELETE_WINDOW).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
VIDEO = DATA / "video" / "dance_single_office.mp4"
EDGEPOSE = Path(sys.executable).parent / "edgepose"  # the command the README's install gives

pytestmark = [
    pytest.mark.skipif(not all(shutil.which(t) for t in ("Xvfb", "xdotool", "xwininfo", "import")),
                       reason="needs xvfb, xdotool, x11-utils and imagemagick (tools/quickstart.sh installs them)"),
    pytest.mark.skipif(not VIDEO.exists(), reason=f"no shared video at {VIDEO}"),
]


@pytest.fixture
def xserver(tmp_path: Path):
    """A private Xvfb screen (its own display number); yields the environment to run clients in."""
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    assert num.isdigit(), "Xvfb did not report its display"
    env = {**os.environ, "DISPLAY": f":{num}", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("WAYLAND_DISPLAY", None)
    env["SDL_AUDIODRIVER"] = "dummy"
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(5)


def find_window(env: dict, timeout: float = 30.0) -> tuple[str, tuple[int, int, int, int]]:
    """The id and (x, y, w, h) of the edgepose window, once it is mapped."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r'(0x[0-9a-f]+) "edgepose[^"]*":.*?(\d+)x(\d+)\+(-?\d+)\+(-?\d+)', line)
            if m:
                wid = m.group(1)
                w, h, x, y = (int(m.group(i)) for i in range(2, 6))
                if w > 100:
                    return wid, (x, y, w, h)
        time.sleep(0.2)
    raise AssertionError("no edgepose window appeared")


def screenshot(env: dict, path: Path) -> np.ndarray:
    import cv2

    subprocess.run(["import", "-window", "root", str(path)], env=env, check=True, timeout=120)
    img = cv2.imread(str(path))
    assert img is not None
    return img


def send_keys(env: dict, wid: str, *keys: str) -> None:
    subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=env, check=True, timeout=10)
    for k in keys:
        subprocess.run(["xdotool", "key", "--window", wid, k], env=env, check=True, timeout=10)
        time.sleep(0.4)


def close_like_a_window_manager(env: dict, wid: str) -> None:
    """Send WM_DELETE_WINDOW (what a close button does), through Xlib."""
    x = ctypes.CDLL("libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    dpy = x.XOpenDisplay(env["DISPLAY"].encode())
    assert dpy, "cannot open the X display"

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    ev = XEvent()
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = int(wid, 16)
    ev.xclient.message_type = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    ev.xclient.format = 32
    ev.xclient.l[0] = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XSendEvent(dpy, int(wid, 16), 0, 0, ctypes.byref(ev))
    x.XFlush(dpy)
    x.XCloseDisplay(dpy)


@pytest.fixture
def long_video(tmp_path: Path) -> Path:
    """The office clip three times over (about 30 s), so keys can be typed before it ends."""
    import cv2

    cap = cv2.VideoCapture(str(VIDEO))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    out = tmp_path / "long.mp4"
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    for _ in range(3):
        for f in frames:
            vw.write(f)
    vw.release()
    return out


def start_run(env: dict, tmp_path: Path, source: Path, program: str = "tree") -> subprocess.Popen:
    cmd = [str(EDGEPOSE), "run", "--source", str(source), "--program", program, "--display",
           "--summary", str(tmp_path / "summary.json")]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def window_pixels(shot: np.ndarray, geom: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = geom
    return shot[max(0, y):y + h, max(0, x):x + w]


def best_video_match(shot: np.ndarray, seconds: float = 20.0) -> float:
    """The highest correlation of the window's picture with the clip's frames (grey, 64x36)."""
    import cv2

    small = cv2.resize(cv2.cvtColor(shot, cv2.COLOR_BGR2GRAY), (64, 36), interpolation=cv2.INTER_AREA).astype(float)
    cap = cv2.VideoCapture(str(VIDEO))
    best, n = -1.0, 0
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    while n < seconds * fps:
        ok, f = cap.read()
        if not ok:
            break
        if n % 3 == 0:
            g = cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (64, 36), interpolation=cv2.INTER_AREA).astype(float)
            best = max(best, float(np.corrcoef(small.ravel(), g.ravel())[0, 1]))
        n += 1
    cap.release()
    return best


def test_window_shows_the_video_with_the_overlay_and_sigterm_ends_it(xserver: dict, tmp_path: Path) -> None:
    import cv2

    p = start_run(xserver, tmp_path, VIDEO)
    try:
        wid, geom = find_window(xserver)
        time.sleep(4.0)  # a few seconds of video
        shot = window_pixels(screenshot(xserver, tmp_path / "shot.png"), geom)
        # the video is there: the office scene has texture and colour, not a blank window
        gray = cv2.cvtColor(shot, cv2.COLOR_BGR2GRAY)
        assert gray.std() > 25, f"the window looks blank (std {gray.std():.1f})"
        # the picture is the video: it matches one of the clip's first frames far better than chance
        assert best_video_match(shot) > 0.6
        # the overlay is there: the top bar is shaded and the program's name is written on it
        top = shot[: max(8, shot.shape[0] // 16)]
        assert cv2.cvtColor(top, cv2.COLOR_BGR2GRAY).mean() < gray.mean(), "no shaded top bar"
        assert (top.min(axis=2) > 200).mean() > 0.004, "no text on the top bar"
        cv2.imwrite(str(tmp_path / "window.png"), shot)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    assert p.returncode == 0, err[-2000:]
    assert took < 3.0, f"SIGTERM took {took:.1f} s to end the session"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["program"] == "tree" and summary["frames"] > 10
    assert "window" in err.lower()  # it said once where the picture goes


def test_keys_change_the_state_and_closing_the_window_ends_the_session(xserver: dict, tmp_path: Path,
                                                                       long_video: Path) -> None:
    p = start_run(xserver, tmp_path, long_video)
    try:
        wid, geom = find_window(xserver)
        time.sleep(2.0)
        before = window_pixels(screenshot(xserver, tmp_path / "a.png"), geom)
        send_keys(xserver, wid, "space")
        time.sleep(1.0)
        paused = window_pixels(screenshot(xserver, tmp_path / "b.png"), geom)
        send_keys(xserver, wid, "space", "n")
        time.sleep(2.0)
        close_like_a_window_manager(xserver, wid)
        t0 = time.monotonic()
        p.wait(10)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    assert p.returncode == 0, err[-2000:]
    assert took < 3.0
    assert "paused (space)" in err and "resumed (space)" in err
    assert "next program: " in err
    # paused shows the paused cue in the cue bar: the bottom of the window changed
    h = before.shape[0]
    assert np.abs(before[-h // 8:].astype(int) - paused[-h // 8:].astype(int)).mean() > 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["program"] != "tree"  # n moved on
    assert summary["previous_programs"][0]["program"] == "tree"


def test_q_quits_with_a_summary(xserver: dict, tmp_path: Path, long_video: Path) -> None:
    p = start_run(xserver, tmp_path, long_video)
    try:
        wid, _ = find_window(xserver)
        time.sleep(1.0)
        send_keys(xserver, wid, "q")
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, p.stderr.read()[-2000:]
    assert json.loads((tmp_path / "summary.json").read_text())["program"] == "tree"
