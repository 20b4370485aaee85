"""Display sinks: headless detection, the framebuffer writer, and the OLED on luma's dummy device."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from edgepose.config import loads
from edgepose.feedback.display import (
    DisplayError,
    FramebufferDisplay,
    NullDisplay,
    SSD1306Display,
    bgr_to_fb,
    detect_screen,
    letterbox,
    open_display,
)
from edgepose.feedback.overlay import Hud
from tests.conftest import video_frame


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return video_frame("video", "dance_single_office.mp4", index=0)


def dummy(width=128, height=64):
    from luma.core.device import dummy as Dummy

    return Dummy(width=width, height=height, mode="1")


# --------------------------------------------------------------------------- headless


def test_no_screen_is_detected_with_reasons(tmp_path):
    kind, why = detect_screen({}, tmp_path / "fb0")
    assert kind is None
    assert "$DISPLAY" in why and "no framebuffer" in why


def test_desktop_without_gui_opencv_is_explained(tmp_path, monkeypatch):
    monkeypatch.setattr("edgepose.feedback.display.opencv_has_gui", lambda: False)
    kind, why = detect_screen({"DISPLAY": ":0"}, tmp_path / "fb0")
    assert kind is None and "no GUI backend" in why


def test_writable_framebuffer_is_found(tmp_path):
    fb = tmp_path / "fb0"
    fb.write_bytes(b"")
    assert detect_screen({}, fb)[0] == "framebuffer"


def test_hdmi_without_screen_falls_back_to_headless_once(tmp_path, caplog):
    cfg = loads('[display]\nkind = "hdmi"').display
    with caplog.at_level(logging.WARNING):
        d = open_display(cfg, environ={}, fb=tmp_path / "fb0")
    assert isinstance(d, NullDisplay)
    msgs = [r.message for r in caplog.records if "no screen is usable" in r.message]
    assert len(msgs) == 1 and "running headless" in msgs[0]
    with pytest.raises(DisplayError, match="no screen is usable"):
        open_display(cfg, environ={}, fb=tmp_path / "fb0", strict=True)


def test_none_is_headless():
    d = open_display(loads("").display)
    assert isinstance(d, NullDisplay)
    d.show(np.zeros((4, 4, 3), np.uint8))
    assert d.frames == 1


def test_missing_oled_is_a_clear_error():
    cfg = loads('[display]\nkind = "ssd1306"\ni2c_port = 29').display
    with pytest.raises(DisplayError, match="I2C bus 29"):
        open_display(cfg, strict=True)


# --------------------------------------------------------------------------- framebuffer


def make_fb(tmp_path: Path, w: int, h: int, bpp: int, stride: int | None = None) -> tuple[Path, Path]:
    sysfs = tmp_path / "sys"
    sysfs.mkdir()
    (sysfs / "virtual_size").write_text(f"{w},{h}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bpp}\n")
    stride = stride or w * bpp // 8
    (sysfs / "stride").write_text(f"{stride}\n")
    dev = tmp_path / "fb0"
    dev.write_bytes(b"\0" * stride * h)
    return dev, sysfs


def test_framebuffer_32bpp_receives_the_letterboxed_frame(frame, tmp_path):
    w, h = 320, 240  # 4:3 screen, 16:9 video: black bars top and bottom
    dev, sysfs = make_fb(tmp_path, w, h, 32)
    d = FramebufferDisplay(dev, sysfs)
    d.show(frame)
    d.close()
    d.close()
    raw = np.frombuffer(dev.read_bytes(), np.uint8).reshape(h, w, 4)
    want = letterbox(frame, w, h)
    assert np.array_equal(raw[..., :3], want)
    assert raw[0, :, :3].max() == 0 and raw[-1, :, :3].max() == 0, "letterbox bars are black"
    assert raw[h // 2].max() > 0


def test_framebuffer_16bpp_rgb565_with_padded_stride(tmp_path):
    w, h = 64, 32
    dev, sysfs = make_fb(tmp_path, w, h, 16, stride=w * 2 + 32)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 2] = 255  # pure red in BGR
    d = FramebufferDisplay(dev, sysfs)
    d.show(img)
    d.close()
    rows = np.frombuffer(dev.read_bytes(), np.uint8).reshape(h, w * 2 + 32)
    px = rows[:, : w * 2].copy().view("<u2")
    assert (px == 0xF800).all(), "red is 11111 000000 00000 in RGB565"
    assert rows[:, w * 2:].max() == 0, "stride padding untouched"


def test_rgb565_conversion():
    img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert bgr_to_fb(img, 16).tolist() == [[0x001F, 0x07E0, 0xF800, 0xFFFF]]
    with pytest.raises(DisplayError, match="8 bpp"):
        bgr_to_fb(img, 8)


def test_framebuffer_without_sysfs_is_a_clear_error(tmp_path):
    with pytest.raises(DisplayError, match="geometry"):
        FramebufferDisplay(tmp_path / "fb0", tmp_path / "nosys")


# --------------------------------------------------------------------------- OLED


def lit_rows(img) -> np.ndarray:
    a = np.array(img.convert("L")) > 0
    return np.where(a.any(axis=1))[0]


def test_oled_shows_the_session_text(tmp_path):
    dev = dummy()
    oled = SSD1306Display(device=dev)
    oled.show(None, Hud(program="Squat", state="active", reps=7, elapsed_s=65, score=88, cue="Knees out"))
    img = dev.image
    img.convert("L").save(tmp_path / "oled.png")
    a = np.array(img.convert("L")) > 0
    assert a.shape == (64, 128)
    # inverted header bar with dark program text inside it
    bar = a[: oled.font.getbbox("Ag")[3] + 2]
    assert bar.mean() > 0.6 and (~bar).sum() > 10
    # text below the bar on at least three text lines
    below = a[bar.shape[0] + 1:]
    assert below.sum() > 100
    rows = np.where(below.any(axis=1))[0]
    gaps = np.diff(rows) > 1
    assert gaps.sum() >= 2, "program bar, state/time, reps/score and cue lines"


def test_oled_matches_its_own_render_and_changes_with_values():
    dev = dummy()
    oled = SSD1306Display(device=dev)
    a = Hud(program="Tree pose", state="active", elapsed_s=12, score=40)
    oled.show(None, a)
    first = np.array(dev.image.convert("L"))
    assert np.array_equal(first > 0, np.array(oled.render(a).convert("L")) > 0)
    oled.show(None, Hud(program="Tree pose", state="active", elapsed_s=13, score=40))
    second = np.array(dev.image.convert("L"))
    assert not np.array_equal(first, second), "the timer moved"


def test_oled_countdown_is_a_big_centred_number():
    dev = dummy()
    oled = SSD1306Display(device=dev)
    oled.show(None, Hud(program="x", countdown_s=2.2))
    a = np.array(dev.image.convert("L")) > 0
    ys, xs = np.nonzero(a)
    assert ys.size > 150
    assert ys.max() - ys.min() > 30, "a number most of the screen tall"
    assert abs((xs.min() + xs.max()) / 2 - 64) < 10


def test_oled_redraws_only_on_change():
    dev = dummy()
    calls = []
    orig = dev.display
    dev.display = lambda im: (calls.append(1), orig(im))
    oled = SSD1306Display(device=dev)
    h = Hud(program="Squat", elapsed_s=10.2)
    oled.show(None, h)
    oled.show(None, Hud(program="Squat", elapsed_s=10.7))
    assert len(calls) == 1
    oled.show(None, Hud(program="Squat", elapsed_s=11.1))
    assert len(calls) == 2


def test_oled_128x32_layout_fits():
    dev = dummy(128, 32)
    oled = SSD1306Display(device=dev)
    oled.show(None, Hud(program="Squat", state="active", reps=3, score=70, cue="Slow down at the bottom"))
    assert lit_rows(dev.image).max() < 32
