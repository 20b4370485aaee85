"""A whole session through the device's outputs: MockFactory LEDs, luma dummy OLED, /dev/fb0 file, real voice."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.appliance.controller import Controller, State
from edgepose.appliance.device_feedback import DeviceFeedback, form_of, open_device_feedback
from edgepose.config import loads
from edgepose.feedback.display import FramebufferDisplay, SSD1306Display
from edgepose.feedback.leds import LedPattern, StatusLeds
from edgepose.feedback.overlay import STATUS_COLORS
from edgepose.feedback.speaker import Speaker
from edgepose.pose import Pose

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CFG = loads("")
PINS = CFG.gpio.leds.as_dict()


def lit(factory) -> set[str]:
    return {n for n, p in PINS.items() if factory.pin(p).state}


def test_form_of_takes_the_worst_seen_joint():
    assert form_of({"a": "on", "b": "near"}) == "near"
    assert form_of({"a": "on", "b": "off", "c": "near"}) == "off"
    assert form_of({"a": "on", "b": "unseen"}) == "on"
    assert form_of({"a": "unseen"}) == "unseen" and form_of({}) == "unseen"


def test_session_on_leds_and_oled(factory, tmp_path):
    from luma.core.device import dummy

    oled_dev = dummy(width=128, height=64, mode="1")
    say = Speaker(tmp_path, espeak="true", player="true", min_interval_s=0)  # silent: voice is tested below
    fb = DeviceFeedback(StatusLeds.from_config(CFG.gpio), SSD1306Display(device=oled_dev), say)
    t = [0.0]
    c = Controller(["squat", "tree_pose"], countdown_s=3, summary_s=5, clock=lambda: t[0])
    fb.attach(c)
    try:
        assert lit(factory) == {"ready"}
        idle_img = np.array(oled_dev.image.convert("L")).copy()
        c.long_press()
        assert not np.array_equal(idle_img, np.array(oled_dev.image.convert("L"))), "OLED shows the new program"
        c.press()
        assert fb.leds.pattern is LedPattern.COUNTDOWN
        t[0] = 1.2
        fb.frame(None)
        assert fb.last_hud.countdown_s == pytest.approx(1.8)
        t[0] = 3.0
        c.tick()
        assert c.state is State.ACTIVE and lit(factory) == {"active"}
        t[0] = 10.0
        fb.frame(None, joint_status={"left_knee": "on", "right_knee": "near"}, cue="Knees out", reps=2, score=75)
        assert lit(factory) == {"active", "good", "fix"}, "near = amber"
        assert fb.last_hud.elapsed_s == pytest.approx(7.0) and fb.last_hud.reps == 2
        fb.frame(None, joint_status={"left_knee": "on"}, reps=3, score=90)
        assert lit(factory) == {"active", "good"}
        c.press()
        assert fb.leds.pattern is LedPattern.SUMMARY
        c.fault("camera disappeared")
        assert fb.leds.pattern is LedPattern.FAULT and fb.hud().cue == "Fault: camera disappeared"
    finally:
        fb.close()
        fb.close()
    assert lit(factory) == set()


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("aplay") is None,
                    reason="espeak-ng/aplay not installed (apt-get install espeak-ng alsa-utils)")
def test_announcements_are_spoken(factory, tmp_path):
    say = Speaker(tmp_path, device="null", min_interval_s=0)
    fb = DeviceFeedback(StatusLeds.from_config(CFG.gpio), None, say)
    t = [0.0]
    c = Controller(["squat"], countdown_s=3, summary_s=5, clock=lambda: t[0])
    fb.attach(c)
    try:
        c.press()
        assert say.wait_idle(20)
        t[0] = 0.5
        fb.frame(None)  # "3"
        assert say.wait_idle(20)
        t[0] = 3.0
        c.tick()
        assert say.wait_idle(20)
        assert say.played == ["squat. Get ready.", "3", "Go."]
    finally:
        fb.close()


def test_overlay_reaches_a_framebuffer(factory, tmp_path):
    video = DATA / "video" / "dance_single_office.mp4"
    if not video.exists():
        pytest.skip(f"test video missing: {video}")
    cap = cv2.VideoCapture(str(video))
    ok, img = cap.read()
    cap.release()
    assert ok
    h, w = img.shape[:2]
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    (sysfs / "virtual_size").write_text(f"{w},{h}")
    (sysfs / "bits_per_pixel").write_text("32")
    dev = tmp_path / "fb0"
    dev.write_bytes(bytes(w * h * 4))
    fb = DeviceFeedback(StatusLeds.from_config(CFG.gpio), FramebufferDisplay(dev, sysfs), None)
    c = Controller(["squat"], countdown_s=0, clock=lambda: 0.0)
    fb.attach(c)
    c.press()
    k = np.zeros((33, 3), np.float32)
    k[:, :2] = (w / 2, h / 2)
    k[:, 2] = 0.9
    k[25] = (w * 0.3, h * 0.6, 0.9)  # left knee
    pose = Pose(k, 0.9)
    out = fb.frame(img, pose, {"left_knee": "off"}, cue="Knees out")
    fb.close()
    raw = np.frombuffer(dev.read_bytes(), np.uint8).reshape(h, w, 4)[..., :3]
    assert np.array_equal(raw, out)
    x, y = round(w * 0.3), round(h * 0.6)
    assert tuple(int(v) for v in raw[y, x]) == STATUS_COLORS["off"]


def test_open_device_feedback_without_hardware_is_quiet_and_working(tmp_path):
    cfg = loads(f'[gpio]\nenabled = false\n[audio]\nenabled = false\n[device]\ncache_dir = "{tmp_path}"')
    fb = open_device_feedback(cfg)
    c = Controller(["squat"], countdown_s=0, clock=lambda: 0.0)
    fb.attach(c)
    c.press()
    assert fb.frame(np.zeros((8, 8, 3), np.uint8), joint_status={"nose": "near"}) is None
    assert fb.leds.pattern is LedPattern.NEAR
    fb.close()
