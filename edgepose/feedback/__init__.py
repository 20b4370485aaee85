"""Feedback sinks: status LEDs and the start button (gpiozero), the display, the speaker.

The ``open_*`` functions build each sink from the config and never stop the device because a
piece of hardware is missing: they log one clear warning and hand back a silent stand-in, so a
unit without its OLED still coaches by voice and LEDs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgepose.config import AudioConfig, Config, DeviceConfig, GpioConfig
from edgepose.evaluate.feedback import JointStatus
from edgepose.feedback.display import Display, NullDisplay, open_display
from edgepose.feedback.leds import LedPattern, StatusLeds
from edgepose.feedback.overlay import Hud, draw_overlay
from edgepose.feedback.speaker import NullSpeaker, Speaker

__all__ = [
    "Display", "Hud", "JointStatus", "LedPattern", "NullButton", "NullDisplay", "NullLeds", "NullSpeaker", "Speaker",
    "StatusLeds",
    "draw_overlay", "open_all", "open_button", "open_display", "open_leds", "open_speaker",
]

if TYPE_CHECKING:
    from edgepose.feedback.button import StartButton

log = logging.getLogger(__name__)


class NullButton:
    """A start button that is not there (GPIO off or unusable): never pressed; sessions are
    started by MQTT commands instead. Same null-object habit as :class:`NullLeds`,
    :class:`~edgepose.feedback.display.NullDisplay` and :class:`NullSpeaker`."""

    is_pressed = False

    def close(self) -> None:
        pass

    def __enter__(self) -> NullButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullLeds:
    """LEDs that are not there: remembers the pattern, lights nothing."""

    def __init__(self) -> None:
        self.pattern: LedPattern | None = None

    def show(self, pattern: LedPattern | str) -> None:
        self.pattern = LedPattern(pattern)

    def form(self, status: str) -> None:
        from edgepose.feedback.leds import FORM_PATTERNS

        self.show(FORM_PATTERNS.get(status, LedPattern.ACTIVE))

    def close(self) -> None:
        pass


def _gpio_errors() -> tuple[type[BaseException], ...]:
    from gpiozero import GPIOZeroError

    return (GPIOZeroError, OSError, RuntimeError)


def open_leds(gpio: GpioConfig, pin_factory: Any = None) -> StatusLeds | NullLeds:
    """The status LEDs, or a :class:`NullLeds` (with one warning) when GPIO is unusable."""
    if not gpio.enabled:
        return NullLeds()
    try:
        return StatusLeds.from_config(gpio, pin_factory=pin_factory)
    except _gpio_errors() as e:
        log.warning("status LEDs unavailable (%s: %s); LEDs are off. On a Pi check the pins in [gpio.leds] "
                    "and that the user is in the 'gpio' group; elsewhere set gpio.enabled = false",
                    type(e).__name__, e)
        return NullLeds()


def open_button(gpio: GpioConfig, on_press: Callable[[], None], on_long_press: Callable[[], None],
                pin_factory: Any = None) -> StartButton | NullButton:
    """The start button, or a :class:`NullButton` (with one warning) when GPIO is unusable."""
    if not gpio.enabled:
        return NullButton()
    from edgepose.feedback.button import StartButton

    try:
        return StartButton.from_config(gpio, on_press, on_long_press, pin_factory=pin_factory)
    except _gpio_errors() as e:
        log.warning("start button unavailable (%s: %s); use MQTT commands to start sessions",
                    type(e).__name__, e)
        return NullButton()


def open_speaker(audio: AudioConfig, device: DeviceConfig) -> Speaker:
    """The speaker for ``[audio]``, caching rendered cues in ``device.cache_dir/voice``
    (a :class:`NullSpeaker` when ``[audio] enabled = false``)."""
    if not audio.enabled:
        return NullSpeaker(device.cache_dir / "voice")
    return Speaker(device.cache_dir / "voice", voice=audio.voice, device=audio.device,
                   min_interval_s=audio.min_interval_s, enabled=audio.enabled)


def open_all(cfg: Config, on_press: Callable[[], None], on_long_press: Callable[[], None],
             pin_factory: Any = None) -> tuple[StatusLeds | NullLeds, StartButton | NullButton, Display, Speaker]:
    """LEDs, button, display and speaker for a config."""
    return (open_leds(cfg.gpio, pin_factory), open_button(cfg.gpio, on_press, on_long_press, pin_factory),
            open_display(cfg.display), open_speaker(cfg.audio, cfg.device))
