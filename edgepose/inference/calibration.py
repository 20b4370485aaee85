"""Real images for static int8 calibration: person crops for the landmark model, whole letterboxed
frames for the person detector (:func:`detector_calibration_frames`).

:func:`calibration_crops` takes them from the videos and photos of a data folder, framed as the
tracker frames people (the float landmark model re-centres the ROI from its own alignment
points), plus background squares in which the float model sees nobody. The annotated evaluation
folders are never read here (:mod:`edgepose.inference.landmark_eval` judges on them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edgepose.capture.media import IMAGE_EXTS, VIDEO_EXTS
from edgepose.errors import ModelError
from edgepose.inference.roi import Roi

log = logging.getLogger(__name__)

LANDMARK_INPUT = 256
EVALUATION_FOLDERS = ("keypoints", "tracking")  # annotated: used to judge, never to calibrate


def default_data_dir() -> Path:
    """``../shared/data`` next to the source checkout."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def crop(image_rgb: np.ndarray, roi: Roi, size: int = LANDMARK_INPUT) -> np.ndarray:
    """The landmark model's input for ``roi``: size x size x 3 float32 RGB in [0, 1].

    Pixels outside the image repeat the border, as MediaPipe's ImageToTensor does for this model.
    """
    return roi.crop(image_rgb, size).astype(np.float32) / 255.0


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ModelError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _frames(paths: list[Path], per_video: int) -> Iterator[np.ndarray]:
    """Evenly spaced RGB frames of each video (skipping the first and last)."""
    import cv2

    for path in paths:
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        if not cap.isOpened() or n <= 0:
            log.warning("cannot read video %s; skipped for calibration", path)
            continue
        for idx in np.linspace(0, n - 1, per_video + 2)[1:-1].astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
            ok, frame = cap.read()
            if ok:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        cap.release()


def _person_from_frame(rgb: np.ndarray, model) -> np.ndarray | None:
    """A person crop from a frame with one main person, or None if the model finds nobody.

    The first crop is a centred square of the whole frame; the float landmark model then
    re-centres it from its own alignment points (landmarks 33/34), as MediaPipe's tracking does,
    until the ROI stops shrinking (from a whole frame that takes several steps).
    """
    h, w = rgb.shape[:2]
    roi = Roi(w / 2, h / 2, float(max(w, h)))
    x = crop(rgb, roi)
    for _ in range(10):
        res = model.run_crop(x, roi)
        if res.score < 0.5 or float(np.hypot(*(res.aux[1] - res.aux[0]))) < 1.0:
            return None
        new = res.next_roi()
        done = abs(new.size - roi.size) < 0.03 * roi.size
        roi = new
        x = crop(rgb, roi)
        if done:
            break
    return x if model.run_crop(x, roi).score >= 0.5 else None


def _background_from_frame(rgb: np.ndarray, model) -> list[np.ndarray]:
    """Corner squares (half the frame's short side) in which the float model sees no body."""
    h, w = rgb.shape[:2]
    side = min(h, w) / 2
    out = []
    for cx, cy in ((side / 2, side / 2), (w - side / 2, side / 2), (side / 2, h - side / 2), (w - side / 2, h - side / 2)):
        x = crop(rgb, Roi(cx, cy, side))
        if model.run_crop(x).score < 0.2:
            out.append(x)
    return out




def _calibration_sources(data_dir: Path) -> tuple[list[Path], list[Path]]:
    """The clips and photos under ``data_dir`` outside the evaluation folders; a clear error when
    the folder is missing or holds none."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ModelError(f"calibration data folder {data_dir} does not exist; pass a folder of videos or "
                         "photos of people (e.g. ../shared/data)")
    videos, images = [], []
    for f in sorted(data_dir.rglob("*")):
        rel = f.relative_to(data_dir).parts
        if not f.is_file() or (rel and rel[0] in EVALUATION_FOLDERS):
            continue
        if f.suffix.lower() in VIDEO_EXTS:
            videos.append(f)
        elif f.suffix.lower() in IMAGE_EXTS:
            images.append(f)
    if not videos and not images:
        raise ModelError(f"no videos or images under {data_dir} outside {', '.join(EVALUATION_FOLDERS)}/ "
                         "to calibrate on")
    return videos, images


def calibration_crops(data_dir: Path, n: int = 64, float_model: Path | None = None) -> list[np.ndarray]:
    """``n`` real crops (256x256x3 float32 RGB in [0, 1]) for static int8 calibration.

    Taken from every video and image under ``data_dir`` except the annotated evaluation folders
    (``keypoints/``, ``tracking/``), so the accuracy check never sees a calibration image. On the
    shared data that is the ``exercise/`` and ``video/`` clips and the ``yoga/`` photos; on a
    device, point it at footage from its own camera.

    * seven in eight: people, framed as the tracker frames them: the float landmark model
      (``float_model``; default: the verified ``pose_landmark_full``) starts from the whole
      frame and re-centres the ROI from its landmarks 33/34 until it settles; frames where it
      finds nobody are skipped. About half from clips (a few evenly spaced frames each), half
      from photos.
    * one in eight: background squares from frame corners in which the float model sees nobody
      (pose flag < 0.2). Without them every crop has a person, the pose-flag logit is calibrated
      to positive values only, and an all-int8 model can no longer say "nobody here" (its flag
      sticks at 0.5).

    Deterministic: the same files give the same crops in the same order.
    """
    data_dir = Path(data_dir)
    videos, images = _calibration_sources(data_dir)
    from edgepose.inference.blazepose import LandmarkModel
    from edgepose.inference.models import verified_path

    model = LandmarkModel(float_model or verified_path("pose_landmark_full"), threads=max(1, os.cpu_count() or 1),
                          refine_with_heatmap=False)
    n_neg = n // 8
    want = n - n_neg
    from_videos = want if not images else (want // 2 if videos else 0)
    people: list[np.ndarray] = []
    background: list[np.ndarray] = []
    quota = -(-from_videos // max(1, len(videos)))
    for v in videos:  # up to `quota` people per clip, from three times as many frames
        got = bg = 0
        for rgb in _frames([v], max(3 * quota, 2)):
            if got < quota and len(people) < from_videos:
                x = _person_from_frame(rgb, model)
                if x is not None:
                    people.append(x)
                    got += 1
            if bg < 2:  # at most two background squares per clip, for variety
                found = _background_from_frame(rgb, model)[:1]
                background += found
                bg += len(found)
    if images:
        # walk the photos in an order spread over all folders, until enough people are found
        bg = 0
        for rgb in _photos_spread(images, until=lambda: len(people) >= want):
            x = _person_from_frame(rgb, model)
            if x is not None:
                people.append(x)
            if bg < n_neg:
                found = _background_from_frame(rgb, model)[:1]
                background += found
                bg += len(found)
    picks = np.linspace(0, len(background) - 1, min(n_neg, len(background))).round().astype(int) if background else []
    crops = people + [background[i] for i in picks]
    if len(crops) < n:
        log.warning("only %d calibration crops found under %s (wanted %d)", len(crops), data_dir, n)
    return crops


def _photos_spread(images: list[Path], until: Callable[[], bool]) -> Iterator[np.ndarray]:
    """The photos as RGB, read one at a time in an order spread over all folders (golden-ratio
    steps, deterministic) while ``until()`` is false; one that cannot be read is skipped with a
    warning."""
    order = np.argsort((np.arange(len(images)) * 0.6180339887) % 1.0, kind="stable")
    for i in order:
        if until():
            return
        try:
            yield read_rgb(images[int(i)])
        except ModelError as e:
            log.warning("%s; skipped for calibration", e)


def detector_calibration_frames(data_dir: Path, n: int = 64) -> list[np.ndarray]:
    """``n`` real frames for static int8 calibration of the person detector (CenterNet).

    Each is what :class:`edgepose.inference.person_detector.PersonDetector` feeds the model: the
    whole frame letterboxed to 512x512, float32 RGB 0-255, shape ``(512, 512, 3)``. The sources
    are those of :func:`calibration_crops` (every clip and photo under ``data_dir`` outside the
    annotated ``keypoints/`` and ``tracking/`` folders, which judge the result): half evenly
    spaced frames of the clips, half photos in an order spread over all folders. Nothing is
    filtered by a model, so frames without anyone in them count as they come. Deterministic.
    """
    from edgepose.inference.person_detector import letterbox

    data_dir = Path(data_dir)
    videos, images = _calibration_sources(data_dir)
    from_videos = n if not images else (n // 2 if videos else 0)
    frames: list[np.ndarray] = []
    if videos:
        per = -(-from_videos // len(videos))
        for v in videos:
            for rgb in _frames([v], per):
                if len(frames) < from_videos:
                    frames.append(letterbox(rgb[:, :, ::-1])[0])  # letterbox() takes BGR
    for rgb in _photos_spread(images, until=lambda: len(frames) >= n):
        frames.append(letterbox(rgb[:, :, ::-1])[0])
    if len(frames) < n:
        log.warning("only %d detector calibration frames found under %s (wanted %d)", len(frames), data_dir, n)
    return frames
