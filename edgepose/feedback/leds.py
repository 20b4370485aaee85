"""Status LEDs through gpiozero: one named pattern at a time.

Five LEDs, pins from ``[gpio.leds]``:

=========  ===============================================================
pattern    LEDs
=========  ===============================================================
off        all off
ready      ready steady
countdown  ready steady, active blinking fast
active     active steady (no form verdict yet)
good       active + good (green)
near       active + good + fix (amber on a red/green bicolour LED)
fix        active + fix (red)
summary    ready steady, active blinking slowly
fault      fault blinking (on 0.2 s, off 0.2 s, on 0.2 s, off 1 s), all others off
=========  ===============================================================

Setting the pattern it already shows does nothing, so the evaluate loop can call
:meth:`StatusLeds.show` on every frame without restarting blink threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from edgepose.config import LED_NAMES, GpioConfig
from edgepose.evaluate.feedback import JointStatus

log = logging.getLogger(__name__)


class LedPattern(StrEnum):
    OFF = "off"
    READY = "ready"
    COUNTDOWN = "countdown"
    ACTIVE = "active"
    GOOD = "good"
    NEAR = "near"
    FIX = "fix"
    SUMMARY = "summary"
    FAULT = "fault"


# pattern -> (LEDs steady on, {LED: (on_s, off_s)} blinking)
_STEADY: dict[LedPattern, tuple[str, ...]] = {
    LedPattern.OFF: (),
    LedPattern.READY: ("ready",),
    LedPattern.COUNTDOWN: ("ready",),
    LedPattern.ACTIVE: ("active",),
    LedPattern.GOOD: ("active", "good"),
    LedPattern.NEAR: ("active", "good", "fix"),
    LedPattern.FIX: ("active", "fix"),
    LedPattern.SUMMARY: ("ready",),
    LedPattern.FAULT: (),
}
_BLINK: dict[LedPattern, dict[str, tuple[float, float]]] = {
    LedPattern.COUNTDOWN: {"active": (0.15, 0.15)},
    LedPattern.SUMMARY: {"active": (0.8, 0.8)},
}
# The fault pattern is a double flash, so it cannot be mistaken for the countdown's even blink.
FAULT_SEQUENCE: tuple[tuple[bool, float], ...] = ((True, 0.2), (False, 0.2), (True, 0.2), (False, 1.0))

# Evaluation status of the form -> pattern shown while active.
FORM_PATTERNS: Mapping[str, LedPattern] = {
    JointStatus.ON: LedPattern.GOOD,
    JointStatus.NEAR: LedPattern.NEAR,
    JointStatus.OFF: LedPattern.FIX,
    JointStatus.UNSEEN: LedPattern.ACTIVE,
}


class StatusLeds:
    """The five status LEDs as a :class:`gpiozero.LEDBoard`.

    Parameters
    ----------
    pins:
        LED name -> BCM pin, for the names in :data:`edgepose.config.LED_NAMES`.
    pin_factory:
        A gpiozero pin factory (``MockFactory()`` in tests); ``None`` for the default.
    """

    def __init__(self, pins: Mapping[str, int], pin_factory: Any = None) -> None:
        from gpiozero import LEDBoard

        missing = [n for n in LED_NAMES if n not in pins]
        if missing:
            raise ValueError(f"LED pins missing for {', '.join(missing)}; set them in [gpio.leds]")
        self.board = LEDBoard(pin_factory=pin_factory, _order=list(LED_NAMES),
                              **{n: pins[n] for n in LED_NAMES})
        self.pattern: LedPattern | None = None
        self._fault_stop = threading.Event()
        self._fault_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.show(LedPattern.OFF)

    @classmethod
    def from_config(cls, gpio: GpioConfig, pin_factory: Any = None) -> StatusLeds:
        return cls(gpio.leds.as_dict(), pin_factory=pin_factory)

    def led(self, name: str) -> Any:
        return getattr(self.board, name)

    def show(self, pattern: LedPattern | str) -> None:
        """Switch to ``pattern`` (a :class:`LedPattern` or its name)."""
        p = LedPattern(pattern)
        with self._lock:
            if p is self.pattern:
                return
            self._stop_fault()
            for name in LED_NAMES:
                led = self.led(name)
                if name in _BLINK.get(p, {}):
                    on, off = _BLINK[p][name]
                    led.blink(on_time=on, off_time=off)
                elif name in _STEADY[p]:
                    led.on()
                else:
                    led.off()
            if p is LedPattern.FAULT:
                self._start_fault()
            self.pattern = p

    def form(self, status: str) -> None:
        """Show the form verdict of the current frame (a :class:`JointStatus`: on/near/off/unseen)."""
        try:
            self.show(FORM_PATTERNS[status])
        except KeyError:
            raise ValueError(f"unknown form status {status!r}; use one of {', '.join(FORM_PATTERNS)}") from None

    def _start_fault(self) -> None:
        self._fault_stop.clear()
        led = self.led("fault")

        def run() -> None:
            while not self._fault_stop.is_set():
                for on, secs in FAULT_SEQUENCE:
                    led.value = on
                    if self._fault_stop.wait(secs):
                        break
            led.off()

        self._fault_thread = threading.Thread(target=run, name="edgepose-fault-led", daemon=True)
        self._fault_thread.start()

    def _stop_fault(self) -> None:
        if self._fault_thread is not None:
            self._fault_stop.set()
            self._fault_thread.join(2.0)
            self._fault_thread = None

    def close(self) -> None:
        """Turn everything off and release the pins; safe to call twice."""
        with self._lock:
            self._stop_fault()
            if not self.board.closed:
                self.board.off()
                self.board.close()
            self.pattern = None

    def __enter__(self) -> StatusLeds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
