"""The typed seam between evaluation and the outputs (screen, LEDs, voice, MQTT).

A :class:`~edgepose.evaluate.session.Session` turns each frame's poses into one
:class:`Feedback`; the overlay, the LEDs, the speaker and the live MQTT payload read it.
:class:`JointStatus` is the one spelling of a joint's verdict, :class:`Phase` the one of where
the person is in the program, and :func:`plain_words` what either (or a controller state) reads
as on a screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class JointStatus(StrEnum):
    """A joint's verdict on this frame (overlay colour, LED pattern)."""

    ON = "on"          # within tolerance
    NEAR = "near"      # slightly out
    OFF = "off"        # needs fixing
    UNSEEN = "unseen"  # not seen well enough to judge


class Phase(StrEnum):
    """Where the person is in the program on this frame (``Feedback.phase``; the live payload's
    ``phase``). Not the appliance's controller state (idle/countdown/active/summary/fault)."""

    WAITING = "waiting"    # nobody in view
    TRACKING = "tracking"  # a person is followed, not yet in the target pose / not measurable
    HOLDING = "holding"    # holding the target pose
    REP_DOWN = "rep_down"  # a rep under way, moving down
    REP_UP = "rep_up"      # a rep under way, moving up
    REP_REST = "rep_rest"  # between reps
    DONE = "done"          # the program is complete


class Level(StrEnum):
    """The overall form verdict of a frame (drives the LEDs)."""

    GOOD = "good"
    NEAR = "near"
    FIX = "fix"
    NONE = "none"


# What each phase, and each controller state, reads as on a screen or a dashboard.
_WORDS: dict[str, str] = {
    Phase.WAITING: "Step into view",
    Phase.TRACKING: "Get into position",
    Phase.HOLDING: "Holding",
    Phase.REP_DOWN: "Going down",
    Phase.REP_UP: "Coming up",
    Phase.REP_REST: "Ready for the next rep",
    Phase.DONE: "Done",
    "idle": "Ready",
    "countdown": "Get ready",
    "active": "Go",
    "summary": "Well done",
    "fault": "Needs attention",
}


def plain_words(name: str | None) -> str:
    """The words shown for a :class:`Phase` or a controller state (``"rep_down"`` → ``"Going
    down"``); anything unknown is shown with its underscores as spaces, capitalised."""
    if not name:
        return ""
    return _WORDS.get(str(name), str(name).replace("_", " ").capitalize())


@dataclass
class Feedback:
    """What the sinks show for one frame.

    ``phase`` is where the person is in the program; ``cue`` is the one active instruction (or
    ``None``); ``cue_new`` is true on the frame it became active (speak it then). ``joints``
    maps BlazePose joint names to a :class:`JointStatus`; ``level`` drives the LEDs ("good"
    green, "near" amber, "fix" red, "none" off).
    """

    phase: Phase
    cue: str | None = None
    joints: dict[str, JointStatus] = field(default_factory=dict)
    level: str = Level.NONE
    reps: int = 0
    score: float = 0.0
    hold_s: float = 0.0
    angles: dict[str, float] = field(default_factory=dict)
    cue_new: bool = False
    person_box: tuple[float, float, float, float] | None = None

    @property
    def words(self) -> str:
        """The phase in plain words, for a screen."""
        return plain_words(self.phase)
