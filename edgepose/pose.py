"""The typed pose record that every stage after inference works with."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgepose.skeleton import BLAZE_INDEX, BLAZEPOSE33, COCO17, COCO_FROM_BLAZE, COCO_INDEX


@dataclass
class Pose:
    """One person in one frame.

    Attributes
    ----------
    keypoints:
        ``(K, 3)`` float array of ``x, y`` in pixels of the original image and a visibility
        in ``[0, 1]``. ``K`` is 33 for ``layout == "blazepose33"`` and 17 for ``"coco17"``.
    score:
        Confidence in ``[0, 1]`` that this is a person (the landmark model's pose flag).
    layout:
        ``"blazepose33"`` or ``"coco17"``.
    id:
        Stable track id, or ``None`` when the pose is not tracked.
    z:
        Optional ``(K,)`` relative depth (BlazePose), same scale as x.
    track_hint:
        The video engine's own person number (stable while the engine keeps tracking that
        person's ROI), a hint for a tracker; ``None`` from still images.
    """

    keypoints: np.ndarray
    score: float
    layout: str = "blazepose33"
    id: int | None = None
    z: np.ndarray | None = field(default=None, repr=False)
    track_hint: int | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        want = 33 if self.layout == "blazepose33" else 17
        if self.layout not in ("blazepose33", "coco17") or self.keypoints.shape != (want, 3):
            raise ValueError(f"a {self.layout} pose needs ({want}, 3) keypoints, got {self.keypoints.shape}")

    @property
    def names(self) -> tuple[str, ...]:
        return BLAZEPOSE33 if self.layout == "blazepose33" else COCO17

    def index(self, name: str) -> int:
        table = BLAZE_INDEX if self.layout == "blazepose33" else COCO_INDEX
        try:
            return table[name]
        except KeyError:
            raise KeyError(f"no joint {name!r} in layout {self.layout}; joints: {', '.join(self.names)}") from None

    def xy(self, name: str) -> np.ndarray:
        """Pixel position of a named joint."""
        return self.keypoints[self.index(name), :2]

    def visibility(self, name: str) -> float:
        return float(self.keypoints[self.index(name), 2])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.keypoints[self.index(name)]

    def coco17(self) -> np.ndarray:
        """``(17, 3)`` keypoints in COCO order."""
        if self.layout == "coco17":
            return self.keypoints.copy()
        return self.keypoints[list(COCO_FROM_BLAZE)].copy()

    def box(self, min_visibility: float = 0.0) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` around the keypoints with at least ``min_visibility``."""
        k = self.keypoints
        sel = k[k[:, 2] >= min_visibility] if min_visibility > 0 else k
        if len(sel) == 0:
            sel = k
        x0, y0 = sel[:, 0].min(), sel[:, 1].min()
        x1, y1 = sel[:, 0].max(), sel[:, 1].max()
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    def to_json(self) -> dict:
        """The pose object of the ``edgepose infer`` JSON Lines format (docs/formats.md)."""
        r = lambda a: [[round(float(x), 2), round(float(y), 2), round(float(v), 4)] for x, y, v in a]  # noqa: E731
        return {
            "id": self.id,
            "score": round(float(min(1.0, max(0.0, self.score))), 4),
            "box": [round(v, 2) for v in self.box()],
            "layout": self.layout,
            "keypoints": r(self.keypoints),
            "coco17": r(self.coco17()),
        }

    @classmethod
    def from_json(cls, d: dict) -> Pose:
        return cls(
            keypoints=np.asarray(d["keypoints"], dtype=np.float32),
            score=float(d.get("score", 1.0)),
            layout=d.get("layout", "blazepose33"),
            id=d.get("id"),
        )
