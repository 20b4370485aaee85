"""Small test videos written with PyAV from real frames: variable frame rate, truncated, one frame.

Helpers only (no tests); imported by test_analyze.py.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, frames: list[np.ndarray], times_s: list[float] | None = None, fps: int = 25,
                faststart: bool = True) -> Path:
    """H.264 MP4 of BGR ``frames``; ``times_s`` gives each frame's presentation time (VFR)."""
    import av

    h, w = frames[0].shape[:2]
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        st.codec_context.time_base = Fraction(1, 1000)
        st.options = {"g": "10"}
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(cv2.cvtColor(img[: st.height, : st.width], cv2.COLOR_BGR2RGB), format="rgb24")
            f.pts = int(round((times_s[i] if times_s else i / fps) * 1000))
            f.time_base = Fraction(1, 1000)
            for pkt in st.encode(f):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def read_frames(path: Path, n: int, step: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
        for _ in range(step - 1):
            cap.read()
    cap.release()
    return out
