"""The pose engine: BlazePose top-down for still images and for video with ROI tracking.

Still images (:meth:`PoseEngine.detect_image`): the detector runs on the whole frame and, when
people may be small, on overlapping tiles; each person's ROI goes through the landmark model.

Video (:meth:`PoseEngine.process`): each tracked person's next ROI comes from the landmarks of
the frame before (the model's two helper points), so the detector runs only when nobody is
tracked, around a person just lost (one call on that region), or every ``detector_every``
frames while fewer than ``max_people`` are tracked; a search runs the whole-frame detector and,
where people may be small, the tiles, spread over frames (``tiles_per_frame``) except on the
first search of a video. While someone is missing, the regions where the picture moved are
tried too (:mod:`edgepose.inference.motion`, for a fixed camera): the detector keys on faces, and a
person seen from behind or back-lit is found as soon as they move. Every candidate, from the
detector or from motion, must satisfy the landmark model. Keypoints are smoothed with a One Euro
filter per person.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgepose.inference import behind, lattice, models, topdown
from edgepose.inference import person_detector as persons
from edgepose.inference.blazepose import ROI_SCALE, Detection, LandmarkModel, LandmarkResult, PoseDetector
from edgepose.inference.filters import OneEuroFilter
from edgepose.inference.landmark_choice import (  # noqa: F401
    LANDMARK_CHOICES,
    default_landmark,
    is_movenet,
    resolve_landmark,
)
from edgepose.inference.motion import MotionRegions
from edgepose.inference.onebody import one_body, one_per_body, same_person
from edgepose.inference.onebody import pose_scale as _pose_scale
from edgepose.inference.roi import Roi, roi_from_alignment
from edgepose.inference.tiles import MIN_TILE, TILE_LEVELS, tile_regions  # noqa: F401 (re-exported)
from edgepose.pose import Pose

if TYPE_CHECKING:
    from edgepose.config import Config

log = logging.getLogger(__name__)

TILES_PER_FRAME = 8  # video: tile detector calls per frame while a scan is under way

def make_engine(config: EngineConfig) -> PoseEngine:
    """The engine for ``config.landmark``: BlazePose, or MoveNet when the model is a MoveNet file."""
    path = resolve_landmark(config.landmark, config.models_dir)
    if is_movenet(path):
        from edgepose.inference.movenet import MoveNetEngine

        return MoveNetEngine(path, config.threads, config.delegate)  # type: ignore[return-value]
    return PoseEngine(config)


@dataclass
class EngineConfig:
    """How the engine runs.

    Attributes
    ----------
    landmark: ``"default"``, ``"float"``, ``"lean"``, ``"int8"`` or a ``.tflite`` path (BlazePose
        landmark model, or a MoveNet SinglePose file, see :func:`make_engine`).
    max_people: most persons reported per frame.
    threads: interpreter threads per model.
    delegate: ``None``/``"xnnpack"``, ``"edgetpu"`` or a delegate library path.
    detector_every: in video, run the detector at least this often (frames) while fewer than
        ``max_people`` are tracked.
    tiles: ``"auto"`` (tiles when looking for several people), ``"on"`` or ``"off"``.
    smoothing: One Euro smoothing in video mode.
    min_pose_score: the landmark model's pose flag below which a ROI holds nobody.
    detector_score: detector score threshold (MediaPipe's legacy solution uses 0.5; lower values
        were measured to add people but lower PCK).
    models_dir: where the models are (default :func:`edgepose.inference.models.models_dir`).
    tiles_per_frame: tile detector calls per video frame during a search; 0 scans all at once.
    motion: in video, while fewer than ``max_people`` are tracked, also try the regions where the
        picture moved (:mod:`edgepose.inference.motion`): people the face-keyed detector misses
        (from behind, back-lit, small) are found as soon as they move. For a fixed camera.
    person_detector: use the face-free person detector (:mod:`edgepose.inference.person_detector`)
        when it has been fetched: on still images always, in video for lock-on only.
    person_every: in video, while someone is missing, the person detector runs at most every this
        many frames (its call costs several landmark calls).
    final_views: on still images, each reported pose's keypoints are averaged over several views
        of its final ROI (:meth:`PoseEngine._averaged_views`): the landmark network moves
        keypoints under imperceptible input changes, and an average moves less. 1 = off; else
        this many views (itself, its mirror, crops shifted by ``FINAL_SHIFT`` and their mirrors). Who is found is not affected (the views run after every decision), nor
        is video. Measured in docs/benchmarks.md ("noise stability", "lattice-blended final round").
    final_rounds: 2 takes the views a second time around a ROI re-aligned from the first round's
        mean alignment points: keypoints beyond 2 % 24.9 % -> 23.7 %, OKS AP 0.526 -> 0.553.
    final_lattice: after the views and the one-pose-per-body check, one more round on the 5
        lattice ROIs around the views' re-aligned ROI and their mirrors, blended with barycentric
        weights (:mod:`edgepose.inference.lattice`), so a sub-pixel ROI move keeps the crops:
        keypoints beyond 2 % 18.8 % -> 14.9 %, median move 0.38 % -> 0.19 % of the height, OKS
        AP 0.560 -> 0.567, for 1.27x the still-image time (docs/benchmarks.md).
    behind: on still images, look for people half hidden behind those found, with the found
        people painted out (:mod:`edgepose.inference.behind`). Measured on the ``infer`` set:
        recall 0.9248 -> 0.970, PCK@0.2 all 0.9042 -> 0.947, OKS AP 0.5553 -> 0.559, for one more
        person-detector call and 2-4 landmark calls a still (docs/benchmarks.md).
    contrast_below: on still images whose median grey level is under this (256: every still),
        the person detector runs once more on a locally contrast-equalised copy
        (:func:`.person_detector.local_contrast`): people dark against a window or in a dim gym.
    """

    landmark: str = "default"
    max_people: int = 1
    threads: int = 2
    delegate: str | None = None
    detector_every: int = 15
    tiles: str = "auto"
    smoothing: bool = True
    min_pose_score: float = 0.5
    detector_score: float = 0.5
    detector_path: str | None = None
    models_dir: Path | None = None  # None: edgepose.inference.models.models_dir()
    tiles_per_frame: int = TILES_PER_FRAME  # video: tile calls per frame during a scan; 0 = all at once
    motion: bool = True
    person_detector: bool = True
    person_every: int = 3
    final_views: int = 5
    final_rounds: int = 2
    behind: bool = True
    contrast_below: float = 90.0
    final_lattice: bool = True

    @classmethod
    def from_config(cls, cfg: Config, landmark: str | None = None, max_people: int | None = None) -> EngineConfig:
        """The engine of a device config's ``[model]`` section, as ``edgepose run`` and
        ``edgepose serve`` use it (the one mapping from config to engine).

        * ``threads``: ``[model] threads`` (default 4, a Raspberry Pi 5's cores); the library's
          own default of 2 is for tools and tests on small shared machines.
        * ``detector_every``: ``[model] detector_every``; its default 0 means "the engine's
          interval" (15 frames): the detector runs to replace a lost person, and to look for
          more people at that interval while fewer than ``max_people`` are tracked.
        * ``delegate``: ``"xnnpack"`` is LiteRT's built-in default (``None`` here).
        * ``models_dir``: ``[device] models_dir``.

        ``landmark`` and ``max_people`` override the config (``--model``, ``--max-people``).
        """
        m = cfg.model
        return cls(
            landmark=landmark or m.landmark,
            max_people=max_people or m.max_people,
            threads=m.threads,
            delegate=None if m.delegate == "xnnpack" else m.delegate,
            detector_every=m.detector_every or cls.detector_every,
            motion=m.motion,
            models_dir=cfg.device.models_dir,
        )

    def __post_init__(self) -> None:
        if self.max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {self.max_people}")
        if self.tiles not in ("auto", "on", "off"):
            raise ValueError(f"tiles must be auto, on or off, got {self.tiles!r}")
        if self.detector_every < 1:
            raise ValueError(f"detector_every must be at least 1, got {self.detector_every}")


@dataclass
class _Track:
    hint: int
    roi: Roi
    result: LandmarkResult
    age: int = 0
    filt: OneEuroFilter = field(default_factory=OneEuroFilter)


@dataclass
class EngineStats:
    frames: int = 0
    detector_frames: int = 0
    detector_calls: int = 0
    landmark_calls: int = 0
    person_calls: int = 0  # person detector (CenterNet) calls
    motion_found: int = 0  # candidates found in a region of motion and confirmed by the landmark model


MOTION_REGIONS = 2      # motion regions tried per frame while someone is missing
MOTION_ROI_SCALE = 1.6  # their square ROI: this times the region's longer side
MOTION_MIN_FLAG = 0.9   # pose flag and body visibility a person found by motion alone needs
MOTION_MIN_VISIBILITY = 0.6
MOTION_BELOW_SCALE = 3.2  # then a square this times the region's longer side...
MOTION_BELOW_SHIFT = 0.8  # ...centred this many region sides below its centre
FINAL_SHIFT = 0.02  # stills: the shifted views of a reported pose's ROI, share of its side
LATTICE_ANCHOR = 0.001  # stills: the previous estimate's weight in a lattice blend (lattice.blend)
FINAL_SOFT = 0.03   # stills: a view's keypoint weighs exp(-(d / (this x side))^2)
PERSON_SEARCH_S = 0.25   # live: the person detector's longest wait while someone is missing


BODY = slice(11, 29)  # shoulders to ankles: the joints every program and metric uses
MIN_BODY_VISIBILITY = 0.4


def body_visibility(kp: np.ndarray) -> float:
    return float(np.mean(kp[BODY, 2]))


def person_score(r: LandmarkResult) -> float:
    """Pose flag x mean body visibility: a region the model calls a person but whose limbs it
    cannot see (a backpack, a reflection, a poster) ranks low. Raised OKS AP on the shared images
    from 0.473 to 0.499 with PCK unchanged (docs/benchmarks.md)."""
    return r.score * body_visibility(r.keypoints)


class PoseEngine:
    """BlazePose top-down pose estimation on BGR images. Not thread-safe: one per thread."""

    def __init__(self, config: EngineConfig | None = None):
        self.config = config or EngineConfig()
        c = self.config
        det_path = Path(c.detector_path) if c.detector_path else models.verified_path("pose_detection",
                                                                                         c.models_dir)
        self.detector = PoseDetector(det_path, c.threads, c.delegate, score_threshold=c.detector_score)
        self.landmarks = LandmarkModel(resolve_landmark(c.landmark, c.models_dir), c.threads, c.delegate)
        self.stats = EngineStats()
        self._tracks: list[_Track] = []
        self._next_hint = 0
        self._since_detect = 0
        self._scan: list[tuple[int, int, int, int]] | None = None
        self._raw_detections: list[Detection] = []  # the last _detect call's detections before merging
        self._searched_once = False
        self._motion = MotionRegions() if self.config.motion else None
        self.persons = persons.load(c.models_dir, c.threads, c.delegate) if c.person_detector else None
        self._since_persons = c.person_every  # frames since the person detector last ran
        self._t_persons = -math.inf  # video time it last ran

    # ------------------------------------------------------------------ detection
    def _use_tiles(self, image: np.ndarray) -> bool:
        if self.config.tiles == "on":
            return True
        if self.config.tiles == "off":
            return False
        return self.config.max_people > 1

    def _detect(self, image: np.ndarray, tiles: bool, fallback: bool = True) -> list[Detection]:
        """Detections on the whole frame, plus tiles when asked to, or (``fallback``, with
        ``tiles="auto"``) when the whole frame shows nobody: a person far from the camera is too
        small for the detector's 224-pixel view of the whole frame."""
        h, w = image.shape[:2]
        dets = self.detector.detect(image)
        self.stats.detector_calls += 1
        if not tiles and not dets and fallback and self.config.tiles == "auto":
            tiles = True
        if tiles:
            for region in tile_regions(w, h):
                dets += self.detector.detect(image, region)
                self.stats.detector_calls += 1
        self._raw_detections = dets
        return self._merge_detections(dets)

    @staticmethod
    def _merge_detections(dets: list[Detection]) -> list[Detection]:
        """One person seen by the whole frame and by a tile: keep the higher-scoring detection."""
        dets = sorted(dets, key=lambda d: -d.score)
        kept: list[Detection] = []
        for d in dets:
            r = d.roi()
            if r.size < 16:
                continue
            dup = False
            for k in kept:
                kr = k.roi()
                if math.hypot(r.cx - kr.cx, r.cy - kr.cy) < 0.2 * max(r.size, kr.size) and \
                        0.6 < r.size / kr.size < 1.6:
                    dup = True
                    break
            if not dup:
                kept.append(d)
        return kept

    def _landmarks(self, image: np.ndarray, roi: Roi) -> LandmarkResult:
        self.stats.landmark_calls += 1
        return self.landmarks.run(image, roi)

    @staticmethod
    def _valid(image: np.ndarray) -> np.ndarray | None:
        if image is None or not hasattr(image, "shape") or image.size == 0:
            return None
        if image.ndim == 2:
            import cv2

            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        elif image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 BGR image, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 image, got {image.dtype}")
        if min(image.shape[:2]) < 8:
            return None
        return np.ascontiguousarray(image)

    def _dedupe(self, results: list[LandmarkResult]) -> list[LandmarkResult]:
        results = sorted(results, key=lambda r: -r.score)
        kept: list[LandmarkResult] = []
        for r in results:
            if all(not same_person(r.keypoints, k.keypoints) for k in kept):
                kept.append(r)
        return kept

    def _rank(self, results: list[LandmarkResult]) -> list[LandmarkResult]:
        """Most prominent first: confidence times apparent size."""
        return sorted(results, key=lambda r: -(person_score(r) * _pose_scale(r.keypoints)))

    def detect_image(self, image: np.ndarray) -> list[Pose]:
        """Poses in one still image (no tracking, no smoothing)."""
        self.stats.frames += 1
        image = self._valid(image)
        if image is None:
            return []
        self.stats.detector_frames += 1
        results = []
        for d in self._detect(image, self._use_tiles(image))[: 4 * self.config.max_people + 4]:
            r = self._landmarks(image, d.roi())
            if r.score < self.config.min_pose_score or body_visibility(r.keypoints) < MIN_BODY_VISIBILITY:
                continue
            # A second pass on the ROI the landmarks themselves give is better aligned than the
            # detector's guess; keep it when the model is at least as sure.
            r2 = self._landmarks(image, r.next_roi())
            results.append(r2 if r2.score >= r.score else r)
        base = [topdown.Candidate(r, "detector") for r in self._dedupe(results)]
        boxes = None
        from_boxes: list[topdown.Candidate] = []
        if self.persons is not None:
            boxes = self.persons.detect(image)
            if persons.median_lightness(image) < self.config.contrast_below:
                boxes = self.persons.add_contrast(image, boxes)
            h, w = image.shape[:2]
            # The crops of a large frame find people too small for both whole-frame proposers;
            # where the face-keyed detector (whole frame and tiles) and the whole-frame boxes
            # already agree on every person, they are skipped (8 of the 9 person-detector calls).
            if persons.wants_crops(w, h) and not topdown.proposers_agree(base, boxes):
                boxes = self.persons.add_crops(image, boxes)
            self.stats.person_calls = self.persons.calls
            from_boxes = self._from_boxes(image, boxes[: 4 * self.config.max_people + 4])
        ranked = topdown.rank(topdown.merge(base, from_boxes, boxes))
        # One pose per person, as the video path holds new poses against its tracks: a second
        # estimate from another detection of the same face, or of the body one person box holds.
        kept = [ranked[i] for i in one_per_body([c.keypoints for c in ranked], boxes)][: self.config.max_people]
        found, painted = [], image
        if self.config.behind and len(kept) < self.config.max_people:
            found, painted = self._behind(image, kept)
            found = found[: self.config.max_people - len(kept)]
        if self.config.final_views > 1:
            rois = [self._averaged_views(image, c.result) for c in kept]
            found_rois = [self._averaged_views(painted, c.result) for c in found]
            keep = one_per_body([c.keypoints for c in kept], boxes)  # the views may join two
            kept, rois = [kept[i] for i in keep], [rois[i] for i in keep]
            if self.config.final_lattice:
                for c, roi in zip(kept, rois, strict=True):
                    self._lattice_round(image, c.result, roi)
                for c, roi in zip(found, found_rois, strict=True):
                    self._lattice_round(painted, c.result, roi)
        kept += found
        return [Pose(c.keypoints.copy(), topdown.pose_quality(c), z=c.result.z.copy()) for c in kept]

    def _behind(self, image: np.ndarray, kept: list[topdown.Candidate]
                ) -> tuple[list[topdown.Candidate], np.ndarray]:
        """People behind the ``kept`` ones (:func:`edgepose.inference.behind.find_behind`)."""
        if self.persons is None or not kept:
            return [], image
        found, painted = behind.find_behind(
            image, [c.keypoints for c in kept], self._raw_detections, self.persons.detect,
            lambda im, roi: self._landmarks(im, roi), self.config.min_pose_score)
        self.stats.person_calls = self.persons.calls
        return found, painted

    def _averaged_views(self, image: np.ndarray, r: LandmarkResult) -> Roi:
        """A reported still-image pose's keypoints (in ``r``, in place) averaged over views of its
        final ROI (:meth:`_views_mean`), which move less under imperceptible image changes than
        one view. With ``final_rounds`` 2 the views are taken again around a ROI from the mean of
        all views' alignment points (itself less moved by noise than one view's), anchored at the
        first round's average. Returns the ROI the last round's alignment points give."""
        kp, aux = self._views_mean(image, r.roi, r.keypoints[:, :2].astype(np.float64), r)
        for _ in range(self.config.final_rounds - 1):
            kp, aux = self._views_mean(image, roi_from_alignment(aux[0], aux[1], ROI_SCALE), kp, None)
        r.keypoints[:, :2] = kp
        return roi_from_alignment(aux[0], aux[1], ROI_SCALE)

    def _lattice_round(self, image: np.ndarray, r: LandmarkResult, roi: Roi) -> None:
        """``r``'s keypoints (in place) blended over the lattice ROIs around ``roi`` and their
        mirrors (:mod:`edgepose.inference.lattice`), anchored at the views' average: crops that
        stay the same pixels when the ROI moves by a fraction of a pixel, with weights that move
        continuously. Run after the one-pose-per-body check on the views' poses, which the views
        decide (they join a ghost to its body; the lattice, holding its anchor, would not)."""
        got, bary = [], []
        for corner, w in lattice.simplex_rois(roi):
            got += [self.landmarks.run(image, corner), self.landmarks.mirrored(image, corner)]
            bary += [w, w]
        self.stats.landmark_calls += len(got)
        kp, _ = lattice.blend(np.stack([g.keypoints[:, :2].astype(np.float64) for g in got]),
                              np.stack([g.aux.astype(np.float64) for g in got]), np.asarray(bary),
                              r.keypoints[:, :2].astype(np.float64), FINAL_SOFT * roi.size, LATTICE_ANCHOR)
        r.keypoints[:, :2] = kp

    def _views_mean(self, image: np.ndarray, roi: Roi, anchor: np.ndarray,
                    own: LandmarkResult | None) -> tuple[np.ndarray, np.ndarray]:
        """(weighted mean keypoints, mean alignment points) of ``own`` (weight 1; run here when
        None) and up to ``final_views`` - 1 mirrored and +-FINAL_SHIFT shifted views of ``roi``,
        each keypoint weighing ``exp(-(d / (FINAL_SOFT x side))^2)`` by its distance to ``anchor``."""
        if own is None:
            self.stats.landmark_calls += 1
            own = self.landmarks.run(image, roi)
        d = FINAL_SHIFT * roi.size
        views = [lambda: self.landmarks.mirrored(image, roi)]
        for dx, dy in ((d, d), (-d, -d), (d, -d), (-d, d)):
            shifted = Roi(roi.cx + dx, roi.cy + dy, roi.size, roi.rotation)
            views += [lambda s=shifted: self.landmarks.run(image, s), lambda s=shifted: self.landmarks.mirrored(image, s)]
        got = [own]
        for view in views[: self.config.final_views - 1]:
            self.stats.landmark_calls += 1
            got.append(view())
        xy = np.stack([g.keypoints[:, :2].astype(np.float64) for g in got])
        w = np.exp(-((np.linalg.norm(xy - anchor[None], axis=2) / (FINAL_SOFT * roi.size)) ** 2))[..., None]
        w[0] = 1.0
        return (w * xy).sum(0) / w.sum(0), np.mean([g.aux.astype(np.float64) for g in got], axis=0)

    def _from_boxes(self, image: np.ndarray, boxes: list[persons.PersonBox],
                    tracked: list[np.ndarray] = ()) -> list[topdown.Candidate]:
        """Landmarks for each person box no tracked person stands in (upright square, then the
        model's own rotated ROI). A box that is a part of another (:func:`.person_detector.part_of`,
        a pair of legs boxed again) is skipped: its pose is a second estimate of that person at best
        (5-7 % of the landmark calls of a search on the shared walking and trio clips)."""
        out = []
        for b in persons.whole_people(list(boxes)):
            if any(_box_holds_hips(b, kp) for kp in tracked):
                continue
            r = topdown.pose_from_box(b, lambda roi: self._landmarks(image, roi), self.config.min_pose_score)
            if r is None or body_visibility(r.keypoints) < MIN_BODY_VISIBILITY:
                continue
            if b.contrast and r.score < topdown.UNBOXED_FLAG:
                continue                  # a box of the equalised copy: the model must be sure
            out.append(topdown.Candidate(r, "person", b))
        return out

    # ------------------------------------------------------------------ video
    def reset(self) -> None:
        """Forget tracked people (a new video or a cut)."""
        self._tracks.clear()
        self._since_detect = 0
        self._scan = None
        self._searched_once = False
        if self._motion is not None:
            self._motion.reset()

    def process(self, image: np.ndarray, t: float) -> list[Pose]:
        """Poses in the next video frame at time ``t`` seconds, tracked and smoothed.

        Each returned pose has ``track_hint`` set (an int stable while the engine keeps the
        person's ROI); ``id`` is left for :mod:`edgepose.analyze.tracking` to assign.
        """
        self.stats.frames += 1
        image = self._valid(image)
        if image is None:
            self.reset()
            return []
        c = self.config
        survivors: list[_Track] = []
        for tr in self._tracks:
            r = self._landmarks(image, tr.roi)
            if r.score < c.min_pose_score:
                continue
            tr.result, tr.roi, tr.age = r, r.next_roi(), tr.age + 1
            survivors.append(tr)
        # Two ROIs that converged on one person: keep the older track.
        survivors.sort(key=lambda t_: -t_.age)
        tracks: list[_Track] = []
        for tr in survivors:
            if all(not one_body(tr.result.keypoints, k.result.keypoints) for k in tracks):
                tracks.append(tr)
        kept = {id(t_) for t_ in tracks}
        lost_rois = [t_.roi for t_ in self._tracks if id(t_) not in kept]
        self._since_detect += 1
        want_more = len(tracks) < c.max_people
        dets: list[Detection] = []
        searched = full_search = False
        h, w = image.shape[:2]
        if want_more:
            # Look again where someone was just lost (occlusion, a fast turn): one detector call
            # on the region around them, not a scan of the whole frame.
            for roi in lost_rois:
                region = _region_around(roi, w, h)
                if region is not None:
                    dets += self.detector.detect(image, region)
                    self.stats.detector_calls += 1
                    searched = True
        if not tracks or self._scan is not None or (want_more and self._since_detect >= c.detector_every):
            # A search for people: the whole frame now and, where people may be small, the
            # overlapping tiles spread over the next frames (TILES_PER_FRAME at a time), so a
            # scan never stalls one frame for tens of detector calls.
            if self._scan is None or not tracks:
                full = self.detector.detect(image)
                self.stats.detector_calls += 1
                dets += full
                if self._scan is None:
                    self._since_detect = 0
                    use_tiles = self._use_tiles(image) or (not full and c.tiles == "auto")
                    self._scan = tile_regions(w, h) if use_tiles else []
            # The first search of a video scans everything at once (its first frame matters); later
            # scans are spread over frames unless tiles_per_frame is 0 (offline analysis).
            per = c.tiles_per_frame if (c.tiles_per_frame > 0 and self._searched_once) else len(self._scan)
            self._searched_once = True
            chunk, rest = self._scan[:per], self._scan[per:]
            for region in chunk:
                dets += self.detector.detect(image, region)
                self.stats.detector_calls += 1
            self._scan = rest or None
            searched = full_search = True
        # The face-free person detector, for lock-on only, at most every ``person_every`` frames:
        # its call costs several landmark calls, and a tracked person needs none. It runs when a
        # search is due (nobody tracked, or the detector_every search) or a track was just lost;
        # live (person_every > 1) also at least every PERSON_SEARCH_S while fewer than max_people
        # are tracked, so someone who steps in beside a tracked person is not left waiting for
        # the detector_every search (15 frames: 0.6 s at 25 fps).
        boxes: list[persons.PersonBox] | None = None
        self._since_persons += 1
        periodic = c.person_every > 1 and not 0.0 <= t - self._t_persons < PERSON_SEARCH_S
        if self.persons is not None and want_more and (searched or lost_rois or periodic) and \
                self._since_persons >= c.person_every:
            # Live (person_every > 1): the whole frame only, one call. Offline also the crops that
            # find small people in a large frame (9 calls at 1280x720) when a search is due; when
            # only a track was just lost, the regions around the lost people instead of every
            # crop (in a crowd someone is lost on most frames: 13 calls a frame at 1960x744).
            if c.person_every > 1 or full_search or not lost_rois or not persons.wants_crops(w, h):
                boxes = self.persons.detect_all(image, crops=None if c.person_every <= 1 else False)
            else:
                regions = [r for r in (_region_around(roi, w, h, LOST_PERSON_REGION) for roi in lost_rois) if r]
                boxes = self.persons.add_crops(image, self.persons.detect(image), regions)
            self.stats.person_calls = self.persons.calls
            self._since_persons, self._t_persons = 0, t
            searched = True
        if searched:
            self.stats.detector_frames += 1
        # New people: every candidate goes through the landmark model, and the most prominent
        # (confidence x size) fill the free places -- a small false hit with a high detector score
        # must not take the place of the person in front of the camera.
        found: list[LandmarkResult] = []
        for d in self._merge_detections(dets)[: 2 * c.max_people + 4]:
            if any(_same_hips(d.keypoints[0], t_.result.keypoints) for t_ in tracks):
                continue
            r = self._landmarks(image, d.roi())
            if r.score < c.min_pose_score or body_visibility(r.keypoints) < MIN_BODY_VISIBILITY:
                continue
            if any(one_body(r.keypoints, t_.result.keypoints) for t_ in tracks):
                continue
            found.append(r)
        if boxes is not None:
            tracked = [t_.result.keypoints for t_ in tracks]
            new = [cd for cd in self._from_boxes(image, boxes[: 2 * c.max_people + 4], tracked)
                   if not any(one_body(cd.keypoints, kp) or topdown.overlaps(cd.keypoints, kp) for kp in tracked)]
            merged = topdown.merge([topdown.Candidate(r, "detector") for r in self._dedupe(found)], new, boxes,
                                   check_base=c.person_every <= 1)
            found = [cd.result for cd in topdown.rank(merged)]
        if self._motion is not None:
            if want_more:
                self._motion.update(image)
                if not found:
                    found = self._from_motion(image, tracks)
            else:
                self._motion.reset()  # its history would be stale when it is next needed
        for r in self._rank(self._dedupe(found)):
            if len(tracks) >= c.max_people:
                break
            if any(one_body(r.keypoints, t_.result.keypoints) for t_ in tracks):
                continue  # a second estimate of a body just taken: the next frame would drop it, and it took a place
            tracks.append(_Track(self._next_hint, r.next_roi(), r))
            self._next_hint += 1
        self._tracks = tracks
        poses = []
        for tr in self._rank_tracks(tracks):
            kp = tr.result.keypoints.copy()
            if c.smoothing:
                kp[:, :2] = tr.filt(kp[:, :2], t, scale=_pose_scale(kp)).astype(np.float32)
            p = Pose(kp, person_score(tr.result), z=tr.result.z.copy())
            p.track_hint = tr.hint
            poses.append(p)
        return poses

    def _from_motion(self, image: np.ndarray, tracks: list[_Track]) -> list[LandmarkResult]:
        """People in the regions where the picture moved, checked by the landmark model like any
        detection (two passes: a square, then the ROI the model itself gives). The square is the
        region's own, then, if that shows nobody, a larger one reaching below it: what moves may be
        only the arms or a bar above a body that stands still (the overhead-press lifter)."""
        assert self._motion is not None
        c = self.config
        out: list[LandmarkResult] = []
        for x, y, w, h in self._motion.regions(MOTION_REGIONS):
            cx, cy, side = x + w / 2, y + h / 2, max(w, h)
            if any(_region_holds(t_.result.keypoints, cx, cy) for t_ in tracks):
                continue  # the motion of someone already tracked
            for roi in (Roi(cx, cy, MOTION_ROI_SCALE * side, 0.0),
                        Roi(cx, cy + MOTION_BELOW_SHIFT * side, MOTION_BELOW_SCALE * side, 0.0)):
                r = self._landmarks(image, roi)
                if r.score < c.min_pose_score:
                    continue
                r = self._landmarks(image, r.next_roi())
                # stricter than for a detection: nothing but the landmark model vouches for this one
                if r.score >= MOTION_MIN_FLAG and body_visibility(r.keypoints) >= MOTION_MIN_VISIBILITY:
                    break
            else:
                continue
            if any(same_person(r.keypoints, t_.result.keypoints) for t_ in tracks):
                continue
            out.append(r)
            self.stats.motion_found += 1
        return out

    def _rank_tracks(self, tracks: list[_Track]) -> list[_Track]:
        order = {id(r): i for i, r in enumerate(self._rank([t_.result for t_ in tracks]))}
        return sorted(tracks, key=lambda t_: order[id(t_.result)])

    def close(self) -> None:
        self._tracks.clear()

    def __enter__(self) -> PoseEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Offline, the side of the person-detector region around a person just lost, in ROI sides: room
# for where they went in the frames it takes to notice (the ROI is already 1.25x the body).
LOST_PERSON_REGION = 2.5


def _region_around(roi: Roi, w: int, h: int, scale: float = 1.6) -> tuple[int, int, int, int] | None:
    """A square ``(x, y, w, h)`` around a ROI, clipped to the image (None if nothing is left)."""
    side = roi.size * scale
    x0, y0 = max(0, int(roi.cx - side / 2)), max(0, int(roi.cy - side / 2))
    x1, y1 = min(w, int(roi.cx + side / 2)), min(h, int(roi.cy + side / 2))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    return x0, y0, x1 - x0, y1 - y0


def _region_holds(kp: np.ndarray, cx: float, cy: float) -> bool:
    """A motion region's centre lies inside a tracked person's keypoint box."""
    vis = kp[kp[:, 2] > 0.3]
    if len(vis) < 3:
        return False
    x0, y0 = vis[:, :2].min(0)
    x1, y1 = vis[:, :2].max(0)
    return bool(x0 <= cx <= x1 and y0 <= cy <= y1)


def _box_holds_hips(box: persons.PersonBox, kp: np.ndarray) -> bool:
    """A tracked person's mid-hip lies in the middle part of a person box (the box is theirs)."""
    x, y = (kp[23, :2] + kp[24, :2]) / 2.0
    mx, my = 0.25 * box.width, 0.2 * box.height
    return bool(box.x0 + mx <= x <= box.x1 - mx and box.y0 + my <= y <= box.y1 - my)


def _same_hips(hip: np.ndarray, kp: np.ndarray, frac: float = 0.12) -> bool:
    """A detection's mid-hip lies on a tracked person's mid-hip (a box test would also swallow
    a neighbour whose hips sit inside the tracked person's outstretched arms)."""
    mid = (kp[23, :2] + kp[24, :2]) / 2.0
    return float(np.linalg.norm(hip - mid)) < frac * _pose_scale(kp)
