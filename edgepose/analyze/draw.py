"""Drawing for analysis outputs: skeletons coloured by performer id, id labels, a sync meter."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from edgepose.skeleton import BLAZE_EDGES, COCO_EDGES


def id_colour(pid: int) -> tuple[int, int, int]:
    """A distinct, stable BGR colour per id (golden-ratio hues)."""
    h = (pid * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_pose(img: np.ndarray, kp: np.ndarray, pid: int | None, min_vis: float = 0.3,
              layout: str = "blazepose33") -> None:
    """Skeleton and id label of one pose, in place. ``kp`` is ``(K, 3)`` pixels + visibility."""
    col = id_colour(pid) if pid is not None else (200, 200, 200)
    edges = BLAZE_EDGES if layout == "blazepose33" else COCO_EDGES
    scale = max(1, int(round(min(img.shape[:2]) / 360)))
    for a, b in edges:
        if kp[a, 2] >= min_vis and kp[b, 2] >= min_vis:
            cv2.line(img, (int(kp[a, 0]), int(kp[a, 1])), (int(kp[b, 0]), int(kp[b, 1])), col, 2 * scale,
                     cv2.LINE_AA)
    for x, y, v in kp:
        if v >= min_vis:
            cv2.circle(img, (int(x), int(y)), 2 * scale, col, -1, cv2.LINE_AA)
    if pid is not None:
        vis = kp[kp[:, 2] >= min_vis]
        if len(vis) == 0:
            vis = kp
        x, y = int(vis[:, 0].mean()), int(vis[:, 1].min()) - 8 * scale
        label = f"#{pid}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, scale)
        cv2.rectangle(img, (x - tw // 2 - 3, y - th - 4), (x + tw // 2 + 3, y + 4), col, -1)
        cv2.putText(img, label, (x - tw // 2, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), scale,
                    cv2.LINE_AA)


def meter_colour(score: float) -> tuple[int, int, int]:
    """Red (0) through yellow to green (1), BGR."""
    s = float(np.clip(score, 0.0, 1.0))
    return (0, int(255 * min(1.0, 2 * s)), int(255 * min(1.0, 2 * (1 - s))))


def draw_sync_meter(img: np.ndarray, score: float | None, label: str = "sync") -> None:
    """A horizontal meter in the top-left corner: the group's synchronisation score now."""
    h, w = img.shape[:2]
    scale = max(1, int(round(min(h, w) / 360)))
    x0, y0 = 10 * scale, 10 * scale
    bw, bh = min(w - 2 * x0, 160 * scale), 14 * scale
    cv2.rectangle(img, (x0 - 2, y0 - 2), (x0 + bw + 2, y0 + bh + 2 + 18 * scale), (0, 0, 0), -1)
    if score is not None and np.isfinite(score):
        cv2.rectangle(img, (x0, y0), (x0 + int(bw * np.clip(score, 0, 1)), y0 + bh), meter_colour(score), -1)
        text = f"{label} {100 * score:.0f}%"
    else:
        text = f"{label} --"
    cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), (255, 255, 255), 1)
    cv2.putText(img, text, (x0, y0 + bh + 14 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (255, 255, 255),
                scale, cv2.LINE_AA)
