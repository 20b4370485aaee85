"""Which landmark model file a configuration means: the manifest's names, the default, a path."""

from __future__ import annotations

from pathlib import Path

from edgepose.errors import ModelError
from edgepose.inference import models

LANDMARK_CHOICES = {"float": "pose_landmark_full", "int8": "pose_landmark_full_int8",
                    "lean": "pose_landmark_full_lean"}


def default_landmark(directory: Path | None = None) -> str:
    """The landmark model used when nobody says otherwise (``EDGEPOSE_LANDMARK`` overrides it).

    Accuracy first: the float network. Its lean build (the segmentation decoder removed, every
    other output bit-identical) when `models fetch` has derived it, since it runs in about 0.6x
    the time; else the fetched file. The int8 build is 2-3x faster on x86 with VNNI but loses
    1.8 PCK points and drops matched-person PCK below MediaPipe's (docs/benchmarks.md), so it is
    an opt-in (`model.landmark = "int8"`), to be measured on the Pi 5 before it is the default
    there.
    """
    import os

    env = os.environ.get("EDGEPOSE_LANDMARK")
    if env:
        return env
    try:
        models.verified_path("pose_landmark_full_lean", directory)
        return "lean"
    except ModelError:
        return "float"


def is_movenet(path: Path) -> bool:
    """Whether ``path`` is a MoveNet SinglePose file (by name, else by its one 1x1x17x3 output)."""
    from edgepose.inference import runtime

    if "movenet" in path.name.lower():
        return True
    try:
        m = runtime.load(path, 1)
    except ModelError:
        return False
    return [o.shape for o in m.outputs] == [(1, 1, 17, 3)]


def resolve_landmark(choice: str | None, directory: Path | None = None) -> Path:
    """``float``/``lean``/``int8``/``default``/None → the verified manifest model; else a path."""
    choice = choice or "default"
    if choice == "default":
        choice = default_landmark(directory)
    if choice in LANDMARK_CHOICES:
        return models.verified_path(LANDMARK_CHOICES[choice], directory)
    if models.canonical_name(choice) in models.load_manifest()[0]:
        return models.verified_path(models.canonical_name(choice), directory)
    p = Path(choice)
    if not p.is_file():
        raise ModelError(f"--model {choice}: no such file; use default, float, lean, int8 or the path of a .tflite")
    return p
