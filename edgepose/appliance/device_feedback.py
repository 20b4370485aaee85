"""The device's outputs in one place: LEDs, display and voice, driven by the controller and the evaluator.

:class:`DeviceFeedback` is what the appliance loop talks to. It listens to the
:class:`~edgepose.appliance.controller.Controller` (state and program changes) and takes one call per
evaluated frame (:meth:`DeviceFeedback.frame`); it decides the LED pattern, renders the overlay
for a screen, feeds the OLED and speaks cues, without blocking the caller on audio.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgepose.appliance.controller import Controller, State, StateChange
from edgepose.evaluate.feedback import JointStatus, plain_words
from edgepose.feedback.display import Display, NullDisplay
from edgepose.feedback.leds import LedPattern
from edgepose.feedback.overlay import Hud, draw_overlay
from edgepose.feedback.speaker import Speaker
from edgepose.pose import Pose

log = logging.getLogger(__name__)

STATE_PATTERNS: Mapping[State, LedPattern] = {
    State.IDLE: LedPattern.READY,
    State.COUNTDOWN: LedPattern.COUNTDOWN,
    State.ACTIVE: LedPattern.ACTIVE,
    State.SUMMARY: LedPattern.SUMMARY,
    State.FAULT: LedPattern.FAULT,
}


def _spoken(program: str) -> str:
    return program.replace("_", " ").replace("-", " ")


def form_of(joint_status: Mapping[str, str]) -> JointStatus:
    """One verdict for the LEDs from per-joint statuses: the worst seen joint wins."""
    seen = [s for s in joint_status.values() if s != JointStatus.UNSEEN]
    if not seen:
        return JointStatus.UNSEEN
    if JointStatus.OFF in seen:
        return JointStatus.OFF
    if JointStatus.NEAR in seen:
        return JointStatus.NEAR
    return JointStatus.ON


class DeviceFeedback:
    """LEDs + display + speaker.

    Parameters
    ----------
    leds:
        :class:`~edgepose.feedback.leds.StatusLeds` or :class:`~edgepose.feedback.NullLeds`.
    display:
        A display sink (:func:`~edgepose.feedback.display.open_display`).
    speaker:
        A :class:`~edgepose.feedback.speaker.Speaker`, or ``None`` for silence.
    """

    def __init__(self, leds: Any, display: Display | None = None, speaker: Speaker | None = None) -> None:
        self.leds = leds
        self.display: Display = display or NullDisplay()
        self.speaker = speaker
        self.controller: Controller | None = None
        self.last_hud: Hud | None = None
        self._last_count: int | None = None

    def attach(self, controller: Controller) -> DeviceFeedback:
        """Follow ``controller``: LED pattern and spoken announcements on every change."""
        self.controller = controller
        controller.on_state_change(self.state_changed)
        controller.on_program_change(self.program_changed)
        self.leds.show(STATE_PATTERNS[controller.state])
        self.display.show(None, self.hud())
        return self

    # ----------------------------------------------------------------- controller events

    def state_changed(self, change: StateChange) -> None:
        self.leds.show(STATE_PATTERNS[change.state])
        self._last_count = None
        prog = _spoken(change.program)
        if change.state is State.COUNTDOWN:
            self.say(f"{prog}. Get ready.", urgent=True)
        elif change.state is State.ACTIVE:
            self.say("Go.", urgent=True)
        elif change.state is State.SUMMARY:
            self.say("Session complete.", urgent=True)
        elif change.state is State.FAULT:
            self.say("Device fault.", urgent=True)
        elif change.state is State.IDLE and change.previous is State.COUNTDOWN:
            self.say("Cancelled.", urgent=True)
        if change.state is not State.ACTIVE:
            self.display.show(None, self.hud())

    def program_changed(self, program: str) -> None:
        self.say(_spoken(program), urgent=True)
        self.display.show(None, self.hud())

    # ----------------------------------------------------------------- per frame

    def hud(self, now: float | None = None, cue: str = "", reps: int | None = None,
            score: float | None = None) -> Hud:
        """The HUD for the controller's current state."""
        c = self.controller
        if c is None:
            return Hud(cue=cue, reps=reps, score=score)
        countdown = c.countdown_remaining(now) if c.state is State.COUNTDOWN else None
        elapsed = c.active_seconds(now) if c.state in (State.ACTIVE, State.SUMMARY) else None
        if c.state is State.FAULT and not cue:
            cue = f"Fault: {c.fault_reason}"
        return Hud(program=c.program, state=plain_words(c.state.value), cue=cue, reps=reps, elapsed_s=elapsed,
                   score=score, countdown_s=countdown)

    def frame(
        self,
        image: np.ndarray | None,
        poses: Pose | Sequence[Pose] | None = None,
        joint_status: Mapping[str, str] | None = None,
        cue: str = "",
        reps: int | None = None,
        score: float | None = None,
        now: float | None = None,
    ) -> np.ndarray | None:
        """Show one evaluated frame. Returns the overlay image (or ``None`` when nothing draws).

        While active, the LEDs show the form verdict (worst joint) and a new cue is spoken
        (the speaker's rate limit keeps it from chattering). During the countdown the seconds
        are spoken.
        """
        c = self.controller
        state = c.state if c is not None else State.ACTIVE
        if state is State.ACTIVE and joint_status is not None:
            self.leds.form(form_of(joint_status))
        if state is State.ACTIVE and cue:
            self.say(cue)
        if state is State.COUNTDOWN and c is not None:
            n = math.ceil(c.countdown_remaining(now))
            if n != self._last_count and n > 0:
                self._last_count = n
                self.say(str(n), urgent=True)
        hud = self.hud(now, cue=cue, reps=reps, score=score)
        self.last_hud = hud
        out = None
        if image is not None and not isinstance(self.display, NullDisplay):
            out = draw_overlay(image, poses, joint_status if state is State.ACTIVE else None, hud)
        self.display.show(out, hud)
        return out

    def say(self, text: str, urgent: bool = False) -> None:
        if self.speaker is not None:
            self.speaker.say(text, urgent=urgent)

    def close(self) -> None:
        """Lights off, display and speaker closed; safe to call twice."""
        for part in (self.leds, self.display, self.speaker):
            if part is None:
                continue
            try:
                part.close()
            except Exception:  # closing one part must not keep the others open
                log.exception("closing %s failed", type(part).__name__)


def open_device_feedback(cfg: Any, pin_factory: Any = None) -> DeviceFeedback:
    """LEDs, display and speaker for a :class:`~edgepose.config.Config` (missing hardware → silent stand-ins)."""
    from edgepose.feedback import open_leds, open_speaker
    from edgepose.live.window import open_screen  # the live window first (keys = the button)

    return DeviceFeedback(open_leds(cfg.gpio, pin_factory), open_screen(cfg.display),
                          open_speaker(cfg.audio, cfg.device))
