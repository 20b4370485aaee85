"""Poses measured in photos and clips: which target pose a photo shows (``edgepose match``) and
the samples of a demonstrated pose that ``edgepose teach`` turns into a program.

The engine is passed in (or made here with one person); images are read with OpenCV, imported
lazily so that importing this module stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BEST_MIN_SCORE = 0.5  # below this no target fits (the checks are on average a margin out)


def match_images(paths: Iterable[str], engine: Any = None, min_score: float = BEST_MIN_SCORE) -> Iterator[dict]:
    """One result dict per image, in order (the ``edgepose match`` line format)."""
    import cv2

    from edgepose.evaluate.angles import measure_pose
    from edgepose.evaluate.match import rank
    from edgepose.evaluate.person import PersonPicker
    from edgepose.programs import list_programs, load_program

    programs = [load_program(i.name) for i in list_programs() if i.kind == "pose"]
    own = engine is None
    if own:
        from edgepose.inference.engine import EngineConfig, PoseEngine

        engine = PoseEngine(EngineConfig(max_people=1))
    try:
        for src in paths:
            row: dict = {"source": src, "best": None, "scores": {p.name: 0.0 for p in programs}}
            img = cv2.imread(src, cv2.IMREAD_COLOR) if Path(src).is_file() else None
            if img is None:
                why = "no such file" if not Path(src).exists() else "not a readable image"
                row["error"] = f"{src}: {why}; give a JPEG or PNG file"
                yield row
                continue
            poses = engine.detect_image(img)
            row["people"] = len(poses)
            pose = PersonPicker().pick(poses, 0.0)
            if pose is not None:
                results = rank(programs, measure_pose(pose))
                row["scores"] = {r.program: round(r.score, 4) for r in sorted(results, key=lambda r: r.program)}
                if results and results[0].score >= min_score:
                    row["best"] = results[0].program
                    row["mirrored"] = results[0].mirrored
            yield row
    finally:
        if own:
            engine.close()


def samples_from_images(paths: list[str], engine: Any,
                        skipped: Callable[[str], None] | None = None) -> list:
    """The measures of the most prominent person in each photo; ``skipped(path)`` for photos
    without a person (default: a log warning)."""
    import cv2

    from edgepose.evaluate.angles import measure_pose
    from edgepose.evaluate.person import PersonPicker

    out = []
    for src in paths:
        img = cv2.imread(src, cv2.IMREAD_COLOR) if Path(src).is_file() else None
        if img is None:
            raise ValueError(f"{src}: cannot read this image; give a JPEG or PNG file")
        pose = PersonPicker().pick(engine.detect_image(img), 0.0)
        if pose is None:
            (skipped or (lambda s: log.warning("no person found in %s; skipped", s)))(src)
            continue
        out.append(measure_pose(pose))
    return out


def samples_from_video(path: Path, start: float, end: float | None, engine: Any) -> list:
    """The measures of the tracked person in every frame between ``start`` and ``end`` seconds."""
    from edgepose.capture.media import frames_of_video
    from edgepose.errors import SourceError
    from edgepose.evaluate.angles import measure_pose
    from edgepose.evaluate.person import PersonPicker

    picker = PersonPicker()
    out = []
    try:
        for _, t, frame in frames_of_video(Path(path)):
            if t < start or (end is not None and t > end):
                continue
            pose = picker.pick(engine.process(frame, t), t)
            if pose is not None:
                out.append(measure_pose(pose))
    except SourceError as e:
        raise ValueError(f"{path}: cannot open this video ({e}); give a readable video file") from None
    return out
