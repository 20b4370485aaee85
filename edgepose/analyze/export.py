"""Per-performer pose sequences from ``poses.jsonl``: loading, CSV and JSON Lines exports."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgepose.skeleton import BLAZEPOSE33, COCO17

log = logging.getLogger(__name__)


@dataclass
class Sequence:
    """One performer over the clip.

    Attributes
    ----------
    id: the performer's stable id.
    frames: ``(n,)`` 0-based frame indices where the performer was seen.
    t: ``(n,)`` frame times in seconds.
    keypoints: ``(n, K, 3)`` x, y pixels and visibility.
    scores: ``(n,)`` pose confidences.
    layout: ``blazepose33`` or ``coco17``.
    """

    id: int
    frames: np.ndarray
    t: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    layout: str = "blazepose33"

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class PoseLog:
    """Everything ``poses.jsonl`` holds, grouped by performer."""

    sequences: dict[int, Sequence]
    frame_count: int
    times: np.ndarray            # (frame_count,) time of every frame line
    sources: list[str]
    width: int
    height: int

    @property
    def rate(self) -> float:
        """The median frame rate (frames per second) of the lines."""
        if len(self.times) < 2:
            return 30.0
        d = np.diff(self.times)
        d = d[d > 0]
        return float(1.0 / np.median(d)) if len(d) else 30.0

    def performers(self, min_share: float = 0.25, min_frames: int = 5, min_visibility: float = 0.55) -> list[int]:
        """The ids that are performers, not false detections that also got an id.

        A performer is seen in at least ``min_share`` of the frames (and ``min_frames``), and the
        median over frames of the mean visibility of their body joints (shoulders to feet) is at
        least ``min_visibility``: a bag or a reflection that the pose model takes for a person
        comes out with visibilities around 0.5, people around 0.85-0.97 (docs/benchmarks.md).
        """
        need = max(min_frames, int(np.ceil(min_share * self.frame_count)))
        ok = []
        for i, s in self.sequences.items():
            if len(s) < min(need, self.frame_count):
                continue
            body = s.keypoints[:, 11:29, 2] if s.layout == "blazepose33" else s.keypoints[:, 5:, 2]
            if float(np.median(body.mean(axis=1))) >= min_visibility:
                ok.append(i)
        return sorted(ok)


def load_poses(path: str | Path) -> PoseLog:
    """Read an ``edgepose analyze`` ``poses.jsonl``.

    Raises
    ------
    ValueError
        A line is not JSON or lacks a field; the message names the file, the line and the field.
    """
    path = Path(path)
    per: dict[int, dict[str, list]] = {}
    times: list[float] = []
    sources: list[str] = []
    width = height = 0
    layout = "blazepose33"
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                frame, t = int(row["frame"]), float(row.get("t", len(times) / 30.0))
                poses = row.get("poses") or []
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path} line {n}: not an edgepose analyze frame line ({e}); "
                                 f"re-run `edgepose analyze` to rewrite it") from None
            times.append(t)
            sources.append(str(row.get("source", "")))
            width, height = int(row.get("width") or width), int(row.get("height") or height)
            for p in poses:
                if p.get("id") is None:
                    continue
                d = per.setdefault(int(p["id"]), {"frames": [], "t": [], "kp": [], "score": []})
                d["frames"].append(frame)
                d["t"].append(t)
                d["kp"].append(p["keypoints"])
                d["score"].append(float(p.get("score", 1.0)))
                layout = p.get("layout", layout)
    seqs = {i: Sequence(i, np.asarray(d["frames"], int), np.asarray(d["t"], float),
                        np.asarray(d["kp"], np.float32), np.asarray(d["score"], np.float32), layout)
            for i, d in sorted(per.items())}
    return PoseLog(seqs, len(times), np.asarray(times, float), sources, width, height)


def _names(layout: str) -> tuple[str, ...]:
    return BLAZEPOSE33 if layout == "blazepose33" else COCO17


def write_performer(seq: Sequence, out_dir: Path) -> tuple[Path, Path]:
    """``performer_<id>.csv`` and ``performer_<id>.jsonl`` in ``out_dir`` (see docs/formats.md)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _names(seq.layout)
    csv_path = out_dir / f"performer_{seq.id}.csv"
    jsonl_path = out_dir / f"performer_{seq.id}.jsonl"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "t", "id", "score"] + [f"{n}_{c}" for n in names for c in ("x", "y", "v")])
        for f, t, s, kp in zip(seq.frames, seq.t, seq.scores, seq.keypoints, strict=True):
            w.writerow([int(f), f"{t:.4f}", seq.id, f"{s:.4f}"] +
                       [f"{v:.2f}" if c < 2 else f"{v:.4f}" for row in kp for c, v in enumerate(row)])
    with open(jsonl_path, "w") as fh:
        for f, t, s, kp in zip(seq.frames, seq.t, seq.scores, seq.keypoints, strict=True):
            fh.write(json.dumps({"frame": int(f), "t": round(float(t), 4), "id": seq.id, "score": round(float(s), 4),
                                 "layout": seq.layout,
                                 "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(v), 4)]
                                               for x, y, v in kp]}, separators=(",", ":")) + "\n")
    return csv_path, jsonl_path
