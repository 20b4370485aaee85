"""Cues that name sides: ``{left}`` and ``{right}`` in a program's cue text.

A program is written for one side (tree pose: standing on the left leg). When the person does it
mirrored, the limb to move is the other one, so the words swap: "Lift your {right} foot to your
{left} knee" reads "Lift your left foot to your right knee" for someone standing on the right leg.
"""

from __future__ import annotations


def sided(text: str, mirrored: bool) -> str:
    """``text`` with ``{left}``/``{right}`` filled in for the side the person is doing."""
    if "{" not in text:
        return text
    left, right = ("right", "left") if mirrored else ("left", "right")
    return text.replace("{left}", left).replace("{right}", right)
