"""The start button through gpiozero: a short press and a long press (hold).

A press is reported on release, and only if the button was not held past ``long_press_s``; a hold
is reported once, when the hold time is reached (so the user feels the program change while still
holding). The button is wired from the pin to ground and uses the internal pull-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edgepose.config import GpioConfig

log = logging.getLogger(__name__)


class StartButton:
    """A :class:`gpiozero.Button` that tells presses from long presses.

    Parameters
    ----------
    pin:
        BCM pin.
    on_press, on_long_press:
        Called with no arguments, on gpiozero's callback thread: keep them short (post an
        event to the controller's queue).
    long_press_s:
        Hold time that makes a long press.
    bounce_time:
        Software debounce in seconds (``None``: none).
    """

    def __init__(
        self,
        pin: int,
        on_press: Callable[[], None],
        on_long_press: Callable[[], None],
        long_press_s: float = 2.0,
        bounce_time: float | None = 0.03,
        pin_factory: Any = None,
    ) -> None:
        from gpiozero import Button

        self._on_press = on_press
        self._on_long = on_long_press
        self._held = False
        self.button = Button(pin, pull_up=True, bounce_time=bounce_time, hold_time=long_press_s,
                             hold_repeat=False, pin_factory=pin_factory)
        self.button.when_pressed = self._pressed
        self.button.when_held = self._hold
        self.button.when_released = self._released

    @classmethod
    def from_config(cls, gpio: GpioConfig, on_press: Callable[[], None], on_long_press: Callable[[], None],
                    pin_factory: Any = None) -> StartButton:
        return cls(gpio.button, on_press, on_long_press, long_press_s=gpio.long_press_s, pin_factory=pin_factory)

    def _pressed(self) -> None:
        self._held = False

    def _hold(self) -> None:
        self._held = True
        log.debug("button held")
        self._call(self._on_long)

    def _released(self) -> None:
        if self._held:
            self._held = False
            return
        log.debug("button pressed")
        self._call(self._on_press)

    @staticmethod
    def _call(cb: Callable[[], None]) -> None:
        try:
            cb()
        except Exception:  # a callback bug must not kill gpiozero's thread and the button with it
            log.exception("button callback failed")

    def close(self) -> None:
        """Release the pin; safe to call twice."""
        self.button.close()

    def __enter__(self) -> StartButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
