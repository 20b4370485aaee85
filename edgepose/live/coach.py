"""The coaching view of ``edgepose run``: which program runs (keys switch it), and what is drawn.

:class:`SessionSwitch` holds the running program session and acts on the live window's keys
(:mod:`edgepose.live.window`): ``toggle`` pauses and resumes the coaching, ``next`` moves on to the
next program of the same family (the yoga poses and flows, or the rep programs), ``quit`` ends
the session. The evaluate thread calls :meth:`SessionSwitch.update`, the main thread
:meth:`SessionSwitch.act`; a lock keeps them apart.

:func:`render_coaching` draws a frame as a person sees it: the target-pose guidance
(:class:`edgepose.feedback.guide.Guide`) for pose and flow programs, the HUD in plain words.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from edgepose.evaluate.feedback import Feedback, Phase
from edgepose.pose import Pose

log = logging.getLogger(__name__)

PAUSED_CUE = "Paused - press space to go on"
POSE_KINDS = ("pose", "flow")


def family(kind: str) -> tuple[str, ...]:
    """The program kinds that ``next`` cycles through from a program of ``kind``."""
    return POSE_KINDS if kind in POSE_KINDS else (kind,)


class SessionSwitch:
    """The program session of a run, switchable by keys (see the module docstring).

    Parameters
    ----------
    start:
        The program to start with (a name).
    make:
        ``make(name) -> session`` (a :class:`~edgepose.evaluate.session.Session` or a flow session).
    names:
        The programs ``next`` cycles through, in order (``start`` among them).
    """

    def __init__(self, start: str, make: Callable[[str], Any], names: list[str] | None = None) -> None:
        self.make = make
        self.names = list(names or [start])
        if start not in self.names:
            self.names.insert(0, start)
        self.name = start
        self.session = make(start)
        self.paused = False
        self.previous: list[dict] = []
        self._lock = threading.Lock()
        self.version = 0  # bumps on every switch (the renderer rebuilds its guide)

    def update(self, poses: list[Pose], t: float, frame_size: tuple[int, int]) -> Feedback:
        with self._lock:
            if self.paused:
                return Feedback(Phase.WAITING, PAUSED_CUE, {}, "none", 0, self.session.live_score(), 0.0)
            return self.session.update(poses, t, frame_size)

    def act(self, action: str) -> None:
        """Apply a key action (``toggle`` or ``next``; ``quit`` is the caller's)."""
        with self._lock:
            if action == "toggle":
                self.paused = not self.paused
                log.warning("%s (space)", "paused" if self.paused else "resumed")
            elif action == "next":
                done = self.session.summary()
                self.previous.append({"program": done["program"], "score": done["score"],
                                      "duration_s": done["duration_s"]})
                i = (self.names.index(self.name) + 1) % len(self.names)
                self.name = self.names[i]
                self.session = self.make(self.name)
                self.version += 1
                log.warning("next program: %s (n)", self.name)

    def summary(self) -> dict:
        """The summary of the program running at the end; earlier ones listed under ``previous_programs``."""
        with self._lock:
            out = self.session.summary()
            if self.previous:
                out["previous_programs"] = list(self.previous)
            return out

    @property
    def program(self) -> Any:
        """The target-pose program being coached now (a flow's current step)."""
        s = self.session
        return getattr(s, "step_program", None) or s.prog


class CoachView:
    """Draws each result for a person: guidance on the coached pose plus the HUD."""

    def __init__(self, switch: SessionSwitch | None, program_name: str | None) -> None:
        self.switch = switch
        self.program_name = program_name
        self._guide: Any = None
        self._guide_key: Any = None
        self._last: tuple[Any, np.ndarray] | None = None

    def guide(self) -> Any:
        if self.switch is None:
            return None
        prog = self.switch.program
        if prog.kind != "pose" or not prog.checks:
            return None
        key = (self.switch.version, prog.name, prog.hold_target_s)
        if key != self._guide_key:
            from edgepose.feedback.guide import Guide

            self.close()
            self._guide, self._guide_key = Guide(prog), key
        return self._guide

    def close(self) -> None:
        """The session is over (or the program changed): stop solving its figure."""
        if self._guide is not None:
            self._guide.close()

    def render(self, res: Any) -> np.ndarray:
        """The frame as the person sees it (drawn once per result, shared by the window and a recording)."""
        if self._last is not None and self._last[0] is res:
            return self._last[1]
        img = render_coaching(res, self.title(), self.guide())
        self._last = (res, img)
        return img

    def title(self) -> str:
        if self.switch is None:
            return self.program_name or ""
        s = self.switch.session
        step = getattr(s, "step_program", None)
        if step is not None:
            return f"{s.prog.title}: {step.title} ({s.index + 1}/{len(s.steps)})"
        return s.prog.title


def render_coaching(res: Any, title: str, guide: Any = None) -> np.ndarray:
    """The frame with the guidance (when ``guide``), every other skeleton, and the HUD."""
    from edgepose.feedback.guide import coached_pose
    from edgepose.feedback.overlay import draw_overlay
    from edgepose.live.render import hud_of, joint_status

    fb = res.feedback
    if guide is None:
        return draw_overlay(res.frame.image, res.poses, joint_status(fb), hud_of(fb, title, res.frame.t_media))
    me = coached_pose(res.poses, getattr(fb, "person_box", None)) if fb is not None else None
    others = [p for p in res.poses if p is not me]
    out = draw_overlay(res.frame.image, others, None, None)
    paused = fb is not None and fb.cue == PAUSED_CUE
    guide.draw(out, None if paused else me, getattr(fb, "cue", None), float(getattr(fb, "hold_s", 0.0) or 0.0),
               res.frame.t_media)
    from edgepose.feedback.overlay import draw_hud

    hud = dataclasses.replace(hud_of(fb, title, res.frame.t_media), reps=None)  # a pose has no reps
    if paused:
        hud = dataclasses.replace(hud, state="Paused")
    return draw_hud(out, hud)
