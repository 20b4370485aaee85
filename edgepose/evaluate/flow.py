"""A yoga flow: several target poses in order, each held for its time, with a pause between.

A flow program (``kind = "flow"``, see docs/formats.md) names its steps; :class:`FlowSession`
runs one :class:`~edgepose.evaluate.session.Session` per step, with the step's hold time as that
pose's hold goal. A step is done when its pose has been held that long; then the screen says so
and names the next pose for ``transition_s`` seconds before the next step starts. The session's
score is the mean of the steps' pose scores (docs/scoring.md), live and in the summary alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from edgepose.evaluate.feedback import Feedback, Phase
from edgepose.evaluate.session import Session
from edgepose.pose import Pose
from edgepose.programs import Program


@dataclass(frozen=True)
class FlowStep:
    """One step of a flow: a target-pose program and how long to hold it."""

    program: Program
    hold_s: float


class FlowSession:
    """Feedback and metrics for a flow program (same interface as :class:`Session`)."""

    def __init__(self, program: Program, steps: list[FlowStep], transition_s: float = 5.0) -> None:
        if not steps:
            raise ValueError(f"flow {program.name!r} has no steps")
        self.prog = program
        self.steps = steps
        self.transition_s = transition_s
        self.index = 0
        self.sessions: list[Session] = [self._session(0)]
        self.completed: list[bool] = [False] * len(steps)
        self.transition_until: float | None = None
        self.t_last: float | None = None
        self.done = False
        self.frames = 0

    def _session(self, i: int) -> Session:
        st = self.steps[i]
        return Session(dataclasses.replace(st.program, hold_target_s=st.hold_s))

    @property
    def current(self) -> Session:
        """The session of the step under way (or the last one)."""
        return self.sessions[-1]

    @property
    def step_program(self) -> Program:
        """The target pose being coached now (its hold goal is the step's hold time)."""
        return self.current.prog

    def update(self, poses: list[Pose], t: float, frame_size: tuple[int, int]) -> Feedback:
        """Feed one frame; returns the feedback to show for it."""
        self.t_last = t
        self.frames += 1
        if self.done:
            return Feedback(Phase.DONE, "Flow complete - well done", {}, "good", 0, self.live_score(), 0.0)
        if self.transition_until is not None:
            if t < self.transition_until:
                nxt = self.steps[self.index + 1].program.title
                return Feedback(Phase.TRACKING, f"Next: {nxt}", {}, "good", 0, self.live_score(), 0.0,
                                cue_new=False)
            self.transition_until = None
            self.index += 1
            self.sessions.append(self._session(self.index))
        fb = self.current.update(poses, t, frame_size)
        step = self.steps[self.index]
        if fb.hold_s >= step.hold_s:
            self.completed[self.index] = True
            self.current._end_hold(t)
            if self.index + 1 < len(self.steps):
                self.transition_until = t + self.transition_s
                nxt = self.steps[self.index + 1].program.title
                fb.cue, fb.cue_new = f"Held! Next: {nxt}", True
            else:
                self.done = True
                fb.phase, fb.cue, fb.cue_new = Phase.DONE, "Flow complete - well done", True
        fb.score = self.live_score()
        return fb

    def step_scores(self) -> list[float]:
        """Each step's pose score so far (0 for steps not reached)."""
        out = []
        for i in range(len(self.steps)):
            out.append(self.sessions[i].pose_score() if i < len(self.sessions) else 0.0)
        return out

    def live_score(self) -> float:
        sc = self.step_scores()
        return round(sum(sc) / len(sc), 1)

    def summary(self) -> dict:
        """The session summary: the flow's own fields and one entry per step (docs/formats.md)."""
        rows = []
        for i, st in enumerate(self.steps):
            if i < len(self.sessions):
                s = self.sessions[i].summary()
                rows.append({"program": st.program.name, "title": st.program.title, "hold_goal_s": st.hold_s,
                             "hold_s": s["hold_s"], "completed": self.completed[i], "score": s["score"],
                             "score_parts": s["score_parts"]})
            else:
                rows.append({"program": st.program.name, "title": st.program.title, "hold_goal_s": st.hold_s,
                             "hold_s": 0.0, "completed": False, "score": 0.0, "score_parts": None})
        t0 = self.sessions[0].t0 or 0.0
        dur = (self.t_last - t0) if self.t_last is not None else 0.0
        scores = [r["score"] for r in rows]
        score = round(sum(scores) / len(scores), 1)
        return {
            "program": self.prog.name, "title": self.prog.title, "kind": "flow",
            "duration_s": round(dur, 2),
            "tracked_s": round(sum(s.tracked_s for s in self.sessions), 2),
            "frames": self.frames,
            "frames_with_person": sum(s.frames_with_person for s in self.sessions),
            "reps": 0,
            "hold_s": max(r["hold_s"] for r in rows),
            "on_target_s": round(sum(s.on_target_s for s in self.sessions), 2),
            "cue_counts": {k: v for s in self.sessions for k, v in s.cues.counts.items()},
            "steps": rows,
            "steps_completed": sum(self.completed),
            "score": float(max(0.0, min(100.0, score))),
            "score_parts": {"step_scores": scores,
                            "formula": "mean over the steps of each step's pose score (docs/scoring.md)"},
        }


def open_session(name: str) -> Session | FlowSession:
    """The session for a program by name: a :class:`FlowSession` for a flow, else a :class:`Session`."""
    from edgepose.programs import load_program

    prog = load_program(name)
    if prog.kind == "flow":
        steps = [FlowStep(load_program(pose), hold) for pose, hold in prog.steps]
        return FlowSession(prog, steps, prog.transition_s)
    return Session(prog)


def program_family(name: str) -> list[str]:
    """The programs the live window's ``n`` key cycles through from ``name``: the same family
    (target poses and flows together, or programs of the same kind), in name order."""
    from edgepose.programs import list_programs, load_program

    kind = load_program(name).kind
    fam = ("pose", "flow") if kind in ("pose", "flow") else (kind,)
    names = [i.name for i in list_programs() if i.kind in fam]
    return names if name in names else [name, *names]
