"""The unit of work that flows from capture to inference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured image.

    Attributes
    ----------
    seq:
        0-based index of the frame in its source (decoded order).
    t_ns:
        Capture time, ``time.monotonic_ns()`` when the frame was read.
    image:
        ``(H, W, 3)`` uint8 BGR image (OpenCV order).
    t_media:
        Time of the frame in the source in seconds (file position; wall time since start for
        live sources).
    source:
        The source as the user named it (path, index, URL).
    """

    seq: int
    t_ns: int
    image: np.ndarray
    t_media: float = 0.0
    source: str = ""


class ClosingSource:
    """Context-manager habit of every source: ``with open_source(...) as src:`` closes it.

    Subclasses implement ``close()`` so that calling it twice is harmless.
    """

    def close(self) -> None:  # pragma: no cover - every source overrides it
        pass

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
