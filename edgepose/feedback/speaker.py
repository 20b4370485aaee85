"""Spoken cues: espeak-ng renders each distinct text once to a cached WAV, aplay plays it.

:meth:`Speaker.say` never blocks the evaluate loop: it checks the rate limit and hands the text
to a background thread through a one-slot mailbox (a newer cue replaces one still waiting, since a
stale cue is worse than none). The same cue is not repeated within ``repeat_s``, and no two cues
start within ``min_interval_s`` of each other unless marked urgent.

When ``espeak-ng`` or ``aplay`` is missing the speaker says so once, with the package to
install, and stays silent; the device keeps working with LEDs and display.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


class Speaker:
    """Speak short cues through ALSA.

    Parameters
    ----------
    cache_dir:
        Where rendered WAVs are kept (``[device] cache_dir`` / ``$CACHE_DIRECTORY``).
    voice, speed:
        espeak-ng voice and words per minute.
    device:
        ALSA device for aplay (``default``, ``plughw:1,0``, ``null``).
    min_interval_s:
        Minimum time between the starts of two cues.
    repeat_s:
        Minimum time before the same text is spoken again (default: 3 x ``min_interval_s``).
    espeak, player:
        Command names (or paths) of the renderer and the player.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        voice: str = "en",
        device: str = "default",
        min_interval_s: float = 2.5,
        repeat_s: float | None = None,
        speed: int = 165,
        enabled: bool = True,
        espeak: str = "espeak-ng",
        player: str = "aplay",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.device = device
        self.min_interval_s = float(min_interval_s)
        self.repeat_s = 3 * self.min_interval_s if repeat_s is None else float(repeat_s)
        self.speed = int(speed)
        self._clock = clock
        self.played: list[str] = []  # texts played to the end (for status and tests)
        self.dropped = 0
        self._last_start = float("-inf")
        self._last_said: dict[str, float] = {}
        self._pending: str | None = None
        self._cv = threading.Condition()
        self._busy = False
        self._closed = False
        self._warned: set[str] = set()
        self._espeak = shutil.which(espeak) if enabled else None
        self._player = shutil.which(player) if enabled else None
        self.available = bool(enabled and self._espeak and self._player)
        if enabled and not self._espeak:
            log.warning("%s not found: spoken cues are off (apt-get install espeak-ng)", espeak)
        if enabled and not self._player:
            log.warning("%s not found: spoken cues are off (apt-get install alsa-utils)", player)
        self._thread: threading.Thread | None = None
        if self.available:
            self._thread = threading.Thread(target=self._run, name="edgepose-speaker", daemon=True)
            self._thread.start()

    # ----------------------------------------------------------------- public

    def wav_path(self, text: str) -> Path:
        key = hashlib.sha1(f"{self.voice}|{self.speed}|{text}".encode()).hexdigest()[:20]
        return self.cache_dir / f"cue-{key}.wav"

    def render(self, text: str) -> Path | None:
        """The WAV for ``text``, rendering it with espeak-ng unless it is cached."""
        if not self._espeak:
            return None
        path = self.wav_path(text)
        if path.exists() and path.stat().st_size > 44:
            return path
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._warn_once("cache", f"cannot create the voice cache {self.cache_dir}: {e.strerror}; cues are off")
            return None
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        cmd = [self._espeak, "-v", self.voice, "-s", str(self.speed), "-w", str(tmp), "--stdin"]
        try:
            p = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            self._warn_once("espeak", f"espeak-ng failed: {e}")
            return None
        if p.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            err = p.stderr.decode(errors="replace").strip()
            self._warn_once(f"espeak:{err}", f"espeak-ng could not render {text!r}: {err or p.returncode} "
                            f"(check audio.voice = {self.voice!r} against `espeak-ng --voices`)")
            return None
        os.replace(tmp, path)
        return path

    def say(self, text: str, urgent: bool = False) -> bool:
        """Queue ``text`` unless the rate limit says no. Returns at once; ``True`` if queued."""
        text = " ".join(text.split())
        if not self.available or not text or self._closed:
            return False
        now = self._clock()
        with self._cv:
            if not urgent and now - self._last_start < self.min_interval_s:
                self.dropped += 1
                return False
            if now - self._last_said.get(text, float("-inf")) < self.repeat_s:
                self.dropped += 1
                return False
            if self._pending is not None:
                self.dropped += 1
            self._pending = text
            self._last_start = now
            self._last_said[text] = now
            self._cv.notify()
        return True

    def prerender(self, texts: Sequence[str]) -> int:
        """Render cues ahead of time (at start-up, off the hot path). Returns how many are cached."""
        return sum(self.render(" ".join(t.split())) is not None for t in texts if t.strip())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending or playing (for tests and shutdown)."""
        end = time.monotonic() + timeout
        with self._cv:
            while self._pending is not None or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def close(self, timeout: float = 3.0) -> None:
        """Stop the worker (a cue being played is let finish up to ``timeout``); safe twice."""
        with self._cv:
            self._closed = True
            self._pending = None
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- worker

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", msg)

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                text, self._pending = self._pending, None
                self._busy = True
            try:
                self._speak(text)
            except Exception:  # the speaker must never take the device down
                log.exception("speaking %r failed", text)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _speak(self, text: str) -> None:
        wav = self.render(text)
        if wav is None or self._player is None:
            return
        cmd = [self._player, "-q", "-D", self.device, str(wav)]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            self._warn_once("play", f"aplay failed: {e}")
            return
        if p.returncode != 0:
            err = p.stderr.decode(errors="replace").strip().splitlines()
            self._warn_once(f"play:{self.device}", f"aplay -D {self.device} failed ({err[-1] if err else p.returncode}); "
                            "check audio.device against `aplay -L` and that the user is in the 'audio' group")
            return
        self.played.append(text)


class NullSpeaker(Speaker):
    """No voice (``[audio] enabled = false``, or no audio hardware): a :class:`Speaker` with
    speech off, so callers never check for ``None``."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(cache_dir if cache_dir is not None else Path(os.devnull).parent, enabled=False)
