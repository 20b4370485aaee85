"""Turn a pipeline result (frame, poses, program feedback) into the overlay a person sees."""

from __future__ import annotations

import numpy as np

from edgepose.evaluate.feedback import Feedback, JointStatus, Phase, plain_words
from edgepose.feedback.overlay import Hud, draw_overlay
from edgepose.live.pipeline import Result


def hud_of(feedback: Feedback | None, program: str | None, elapsed_s: float | None) -> Hud:
    """The HUD for one frame: the phase in plain words ("Going down"), cue, reps, score."""
    if feedback is None:
        # no program: nothing to coach, no phase to show
        return Hud(program=program or "", state=plain_words(Phase.TRACKING) if program else "", elapsed_s=elapsed_s)
    return Hud(program=program or "", state=feedback.words, cue=feedback.cue or "", reps=feedback.reps,
               elapsed_s=elapsed_s, score=feedback.score)


def joint_status(feedback: Feedback | None) -> dict[str, JointStatus] | None:
    """The coached person's joint verdicts, or ``None`` when there is no program feedback."""
    if feedback is None or not feedback.joints:
        return None
    return dict(feedback.joints)


def render_result(res: Result, program: str | None) -> np.ndarray:
    """The frame with every skeleton, the coached person's joints coloured, and the HUD."""
    return draw_overlay(res.frame.image, res.poses, joint_status(res.feedback),
                        hud_of(res.feedback, program, res.frame.t_media))
