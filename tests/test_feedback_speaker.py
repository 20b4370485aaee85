"""Spoken cues: a real espeak-ng WAV, real aplay on ALSA's null device, rate limits, missing tools."""

from __future__ import annotations

import logging
import shutil
import time
import wave

import numpy as np
import pytest

from edgepose.feedback.speaker import Speaker

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
needs_aplay = pytest.mark.skipif(shutil.which("aplay") is None, reason="aplay not installed (apt-get install alsa-utils)")


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return data, rate


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@needs_espeak
def test_render_makes_a_real_non_silent_wav_and_caches_it(tmp_path):
    sp = Speaker(tmp_path / "cache", player="true")
    try:
        path = sp.render("Push your knees out")
        assert path is not None and path.parent == tmp_path / "cache"
        data, rate = read_wav(path)
        dur = data.size / rate
        rms = float(np.sqrt(np.mean(data**2)))
        assert 0.6 < dur < 4.0, dur
        assert rms > 500, f"rms {rms:.0f}: the cue is silent"
        mtime = path.stat().st_mtime_ns
        assert sp.render("Push your knees out") == path
        assert path.stat().st_mtime_ns == mtime, "rendered once per distinct text"
        other = sp.render("Straighten your back")
        assert other != path and other.exists()
        # text that looks like an option is spoken, not parsed
        assert sp.render("-v xx") is not None
    finally:
        sp.close()


@needs_espeak
@needs_aplay
def test_say_plays_through_alsa_in_the_background(tmp_path):
    with Speaker(tmp_path, device="null", min_interval_s=0) as sp:
        t0 = time.perf_counter()
        assert sp.say("Well done")
        assert time.perf_counter() - t0 < 0.1, "say() must not wait for espeak-ng or aplay"
        assert sp.wait_idle(15)
        assert sp.played == ["Well done"]
        assert sp.wav_path("Well done").exists()


@needs_espeak
@needs_aplay
def test_rate_limits(tmp_path):
    clock = Clock()
    with Speaker(tmp_path, device="null", min_interval_s=2.0, repeat_s=10.0, clock=clock) as sp:
        assert sp.say("Knees out")
        clock.t += 0.5
        assert not sp.say("Chest up"), "too soon after the last cue"
        assert sp.say("Chest up", urgent=True), "urgent cues skip the interval"
        clock.t += 3.0
        assert not sp.say("Knees out"), "same text within repeat_s"
        assert sp.say("Slow down")
        clock.t += 10.0
        assert sp.say("Knees out")
        assert sp.dropped >= 2
        assert sp.wait_idle(20)
        assert sp.played and sp.played[-1] == "Knees out"


def test_missing_tools_warn_once_and_stay_silent(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        sp = Speaker(tmp_path, espeak="espeak-ng-not-here", player="aplay-not-here")
    assert not sp.available
    for _ in range(5):
        assert sp.say("hello") is False
    warns = [r.message for r in caplog.records]
    assert sum("espeak-ng-not-here not found" in m for m in warns) == 1
    assert any("apt-get install espeak-ng" in m for m in warns)
    assert sp.render("hello") is None
    sp.close()


@needs_espeak
@needs_aplay
def test_bad_alsa_device_warns_once_and_keeps_going(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), Speaker(tmp_path, device="nosuchdevice", min_interval_s=0) as sp:
        sp.say("one")
        assert sp.wait_idle(15)
        sp.say("two")
        assert sp.wait_idle(15)
        assert sp.played == []
        assert sp.say("three"), "still accepting cues"
    msgs = [r.message for r in caplog.records if "aplay -D nosuchdevice failed" in r.message]
    assert len(msgs) == 1 and "aplay -L" in msgs[0]


@needs_espeak
def test_bad_voice_is_named(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), Speaker(tmp_path, voice="zz-nope", player="true") as sp:
        assert sp.render("hello") is None
    assert any("zz-nope" in r.message and "espeak-ng --voices" in r.message for r in caplog.records)


def test_disabled_speaker_is_silent_without_warnings(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), Speaker(tmp_path, enabled=False) as sp:
        assert sp.say("x") is False
    assert not caplog.records
