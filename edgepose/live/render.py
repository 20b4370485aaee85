"""Turn a pipeline result (frame, poses, program feedback) into the overlay a person sees."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgepose.feedback.overlay import Hud, JointStatus, draw_overlay
from edgepose.live.pipeline import Result

# Feedback joint states (edgepose.evaluate) → overlay colours (edgepose.feedback.overlay).
_STATUS = {"on": JointStatus.ON_TARGET, "near": JointStatus.NEAR, "off": JointStatus.OFF,
           "unseen": JointStatus.UNSEEN}


def hud_of(feedback: Any, program: str | None, elapsed_s: float | None) -> Hud:
    if feedback is None:
        return Hud(program=program or "", state="tracking", elapsed_s=elapsed_s)
    return Hud(program=program or "", state=str(getattr(feedback, "state", "") or ""),
               cue=getattr(feedback, "cue", None) or "", reps=getattr(feedback, "reps", None),
               elapsed_s=elapsed_s, score=getattr(feedback, "score", None))


def joint_status(feedback: Any) -> dict[str, str] | None:
    joints = getattr(feedback, "joints", None)
    if not joints:
        return None
    return {name: _STATUS.get(state, JointStatus.UNSEEN) for name, state in joints.items()}


def render_result(res: Result, program: str | None) -> np.ndarray:
    """The frame with every skeleton, the coached person's joints coloured, and the HUD."""
    return draw_overlay(res.frame.image, res.poses, joint_status(res.feedback),
                        hud_of(res.feedback, program, res.frame.t_media))
