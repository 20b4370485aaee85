"""``edgepose analyze``: every frame through the pose engine and the tracker, then exports.

Pass 1 reads every frame, runs the multi-person engine and follows people frame to frame with
:class:`edgepose.analyze.tracking.Tracker` (track fragments). Each confirmed track is walked back
through the last seconds of video (:mod:`edgepose.analyze.backward`), so a person is tracked from
the first frame they are visible in, not from the frame a search found them. Every pose carries
the colours of its torso and legs (:mod:`edgepose.analyze.appearance`). When the clip is read,
duplicate poses of one body are dropped and the fragments are joined into people globally
(:mod:`edgepose.analyze.relink`); then ``poses.jsonl`` is written, one JSON line per frame (a
decoding error midway still writes every frame read before it).

Pass 2 works from ``poses.jsonl`` alone: per-performer sequences, synchronisation, the annotated
video and the HTML report.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from edgepose.analyze import PEOPLE, appearance, group, relink
from edgepose.analyze.backward import BackwardConfig, BackwardPass
from edgepose.analyze.frames import FrameReader, SourceInfo
from edgepose.analyze.still import ChangeProbe, StillConfig, is_static
from edgepose.analyze.tracking import Tracker, TrackerConfig
from edgepose.pose import Pose

log = logging.getLogger(__name__)


class PoseEstimator(Protocol):
    """What the runner needs from a pose engine (``edgepose.inference.engine.PoseEngine``)."""

    def process(self, image: np.ndarray, t: float) -> list[Pose]: ...


@dataclass
class AnalyzeConfig:
    """Options of one analysis.

    Attributes
    ----------
    people: most performers per frame the engine looks for.
    folder_fps: frame rate assumed for a folder of frames.
    tiles: the engine's detector tiling (``auto``, ``on``, ``off``).
    detector_every: frames between detector runs while fewer than ``people`` are tracked.
    model: landmark model (``default``, ``float``, ``int8`` or a path).
    threads: interpreter threads.
    tracker: tracker parameters.
    annotate: write ``annotated.mp4``.
    report: write ``report.html`` and the sync figures.
    backward: the backward pass's parameters (None: no backward pass).
    link: how fragments are joined into people (None: each confirmed track is a person).
    still: when a track is a static object (a notice board, a statue) and dropped (None: never).
    """

    people: int = PEOPLE
    folder_fps: float = 30.0
    tiles: str = "auto"
    detector_every: int = 10
    model: str = "default"
    threads: int = 2
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    annotate: bool = True
    report: bool = True
    backward: BackwardConfig | None = field(default_factory=BackwardConfig)
    link: relink.LinkConfig | None = field(default_factory=relink.LinkConfig)
    still: StillConfig | None = field(default_factory=StillConfig)


@dataclass
class PassResult:
    """What pass 1 did."""

    info: SourceInfo
    frames: int = 0
    unreadable: int = 0
    poses: int = 0
    ids: int = 0
    frames_with_people: int = 0
    seconds: float = 0.0
    truncated: bool = False
    vfr: bool = False
    error: str | None = None
    t_last: float = 0.0
    fragments: int = 0            # confirmed tracks of pass 1
    backward_poses: int = 0       # poses the backward pass added
    followed_poses: int = 0       # poses of lost tracks found by following them forward
    duplicates: int = 0           # poses dropped as a second pose of one body
    joins: int = 0                # fragment groups joined into one person
    drifted: int = 0              # poses dropped as standing on someone else's legs (strays.drop_drifted)
    static_tracks: int = 0        # confirmed tracks dropped as static objects (analyze.still)
    static_poses: int = 0         # their poses

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """A one-line progress bar on a text stream: frames, fps and ETA."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "analyze"):
        self.total, self.label = max(1, total), label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < (0.25 if self.tty else 5.0):
            return
        self._last = now
        el = max(now - self.t0, 1e-6)
        fps = done / el
        total = max(self.total, done)
        eta = (total - done) / fps if fps > 0 else 0.0
        width = 24
        fill = int(width * done / total)
        bar = "#" * fill + "." * (width - fill)
        line = (f"{self.label} [{bar}] {done}/{total} frames  {fps:5.1f} fps  "
                f"ETA {int(eta // 60)}:{int(eta % 60):02d}")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def default_out_dir(source: str | Path) -> Path:
    """``<video stem>_analysis/`` next to the current directory (``<folder name>_analysis`` for frames)."""
    p = Path(source)
    return Path(f"{p.stem if p.is_file() else p.resolve().name}_analysis")


def make_engine(cfg: AnalyzeConfig) -> PoseEstimator:
    """The real BlazePose engine configured for multi-person video."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    return PoseEngine(EngineConfig(landmark=cfg.model, max_people=cfg.people, threads=cfg.threads,
                                   tiles=cfg.tiles, detector_every=cfg.detector_every, smoothing=True,
                                   # offline: a whole tile scan at once beats spreading it over frames
                                   tiles_per_frame=0,
                                   # recorded footage may come from a moving camera; motion regions
                                   # are for the appliance's fixed one
                                   motion=False,
                                   # offline has the time: the person detector on every search
                                   person_every=1))


@dataclass
class _Det:
    """One pose of pass 1, the track fragment it belongs to, its colours and how much the
    pixels under it changed in the last second (``analyze.still.ChangeProbe``; None: not measured)."""

    pose: Pose
    uid: int
    app: appearance.Appearance | None
    change: float | None = None


@dataclass
class _Held:
    """One frame's poses, kept until the fragments are joined (the image itself is not kept)."""

    index: int
    t: float
    source: str
    width: int
    height: int
    error: str | None
    dets: list[_Det] = field(default_factory=list)

    def row(self) -> dict:
        row: dict = {"source": self.source, "frame": self.index, "t": round(self.t, 4), "width": self.width,
                     "height": self.height,
                     "poses": [d.pose.to_json() for d in self.dets if d.pose.id is not None]}
        if self.error:
            row["error"] = self.error
        return row


def _describe(image: np.ndarray, pose: Pose) -> appearance.Appearance:
    return appearance.describe(image, pose.coco17().astype(np.float64))


def track_to_jsonl(reader: FrameReader, out_path: Path, engine: PoseEstimator, tracker: Tracker,
                   progress: Callable[[int, bool], None] | None = None,
                   cfg: AnalyzeConfig | None = None) -> PassResult:
    """Pass 1 (engine, tracker, backward walks), then one pose per body, fragments joined into
    people, and one JSON line per frame.

    A decoding error midway ends the pass with everything read so far written and the error
    recorded in the result (the caller reports it); it does not lose the file.
    """
    cfg = cfg or AnalyzeConfig()
    res = PassResult(info=reader.info)
    rows: list[_Held] = []
    by_index: dict[int, _Held] = {}
    first: dict[int, tuple[int, Pose]] = {}
    recent: dict[int, deque] = {}          # uid -> its last poses (frame, pose)
    confirmed: set[int] = set()
    evidence: set[tuple[int, int]] = set()
    run = getattr(getattr(engine, "landmarks", None), "run", None)
    back = BackwardPass(run, reader.info.fps, cfg.backward) if run is not None and cfg.backward else None
    probe = ChangeProbe(reader.info.fps, cfg.still) if cfg.still is not None else None
    t0 = time.monotonic()

    def others(frame: int, uid: int) -> list[np.ndarray]:
        return [d.pose.coco17().astype(np.float64) for d in by_index[frame].dets if d.uid != uid]

    def collides(frame: int, pose: Pose, uid: int) -> int | None:
        k = pose.coco17().astype(np.float64)
        for d in by_index[frame].dets:
            if d.uid != uid and relink.one_body(k, d.pose.coco17().astype(np.float64)):
                return d.uid
        return None

    # A track proves it is a person by what the engine finds, before the walks extend it: a
    # false detection confirmed by three frames would otherwise be carried seconds back and
    # forward and pass for a person. The length is the one that makes an id a person
    # (edgepose.analyze.group.real_ids).
    proven = max(cfg.tracker.min_hits, min(int(round(group.MIN_SECONDS * reader.info.fps)),
                                           int(np.ceil(0.1 * max(1, reader.info.frames)))))
    hits: dict[int, int] = {}
    walked: set[int] = set()

    def on_confirmed(tracks) -> None:
        confirmed.update(tr.uid for tr in tracks)

    def walk_back(uid: int) -> None:
        walked.add(uid)
        if back is None or uid not in first:
            return
        f0, p0 = first[uid]
        walk = back.walk(f0, p0, lambda f, p: collides(f, p, uid), lambda f: others(f, uid))
        for st in walk.steps:
            by_index[st.frame].dets.append(_Det(st.pose, uid, _describe(st.image, st.pose)))
        if walk.steps:
            first[uid] = (walk.steps[-1].frame, walk.steps[-1].pose)
        if walk.collided_with is not None:
            evidence.add((uid, int(walk.collided_with)))

    def walk_proven() -> None:
        for uid in [u for u in confirmed if u not in walked and hits.get(u, 0) >= proven]:
            walk_back(uid)

    try:
        for rec in reader:
            if probe is not None:
                probe.push(rec.index, rec.image)
            if rec.image is None:
                res.unreadable += 1
                h, w = reader.info.height, reader.info.width
                held = _Held(rec.index, rec.t, rec.source, int(w), int(h), rec.error)
            else:
                poses = tracker.update(engine.process(rec.image, rec.t), rec.image)
                h, w = rec.image.shape[:2]
                res.t_last = rec.t
                looks = tracker.last_looks if len(tracker.last_looks) == len(poses) else [None] * len(poses)
                held = _Held(rec.index, rec.t, rec.source, int(w), int(h), rec.error,
                             [_Det(p, u, look if look is not None else _describe(rec.image, p))
                              for p, u, look in zip(poses, tracker.last_uids, looks, strict=True)])
            rows.append(held)
            by_index[rec.index] = held
            for d in held.dets:
                hits[d.uid] = hits.get(d.uid, 0) + 1
            if rec.image is not None and back is not None:
                _follow_lost(tracker, back, held, rec.image, recent, others, collides,
                             {u for u, n in hits.items() if n >= proven})
            if probe is not None and rec.image is not None:
                for d in held.dets:
                    d.change = probe.change(rec.index, d.pose.coco17().astype(np.float64))
            for d in held.dets:
                first.setdefault(d.uid, (rec.index, d.pose))
                recent.setdefault(d.uid, deque(maxlen=6)).append((rec.index, d.pose))
            if back is not None:
                back.hold(rec.index, rec.image)
            on_confirmed(tracker.confirmed_now)
            walk_proven()
            res.frames += 1
            if progress:
                progress(res.frames, False)
    except Exception as e:                        # a decoder crash midway: keep what we have
        res.error = f"{reader.path}: analysis stopped at frame {res.frames} ({type(e).__name__}: {e})"
        log.error(res.error)
    finally:
        tracker.finish()
        on_confirmed(tracker.confirmed_now)
        walk_proven()
        if back is not None:
            res.backward_poses = back.stats.frames_added
            res.followed_poses = back.stats.followed
        _identify(rows, confirmed, evidence, reader.info.fps, cfg.link, res, cfg.still)
        _write_rows(out_path, rows, res)
    res.seconds = time.monotonic() - t0
    res.truncated = reader.truncated
    res.vfr = reader.vfr
    if progress:
        progress(res.frames, True)
    return res


def _follow_lost(tracker: Tracker, back: BackwardPass, held: _Held, image: np.ndarray,
                 recent: dict[int, deque], others, collides, proven: set[int]) -> None:
    """Confirmed tracks pass 1 did not find in this frame: look for each where it was going,
    with the other people painted out if need be (an occluded person); a pose found joins the
    track (and the frame). The last pose before a loss is often already sliding onto the
    occluder, so when it leads nowhere the walk starts again from a pose a few frames older. A
    pose found there whose own colours are unlike the track's (:meth:`Tracker.looks_unlike`) is
    someone else, and is not taken."""
    f = held.index
    for tr in tracker.tracks:
        hist = recent.get(tr.uid)
        if not tr.confirmed or tr.last_frame == tracker.frame or not hist or tr.uid not in proven:
            continue
        if hist[-1][1].layout != "blazepose33":
            continue
        vel = _hip_velocity(hist)
        starts = [hist[-1]] + ([hist[0]] if len(hist) >= 4 else [])
        for lf, lp in starts:
            gap = f - lf
            p = back.follow(image, lp.keypoints.astype(np.float64), vel * min(gap, 10), gap,
                            others(f, tr.uid), lambda q, u=tr.uid: collides(f, q, u))
            if p is None:
                continue
            # Judged on the pose's own pixels only: someone hidden behind a person in front (whose
            # feet are lower in the picture) would look unlike themselves through that person.
            k = p.coco17().astype(np.float64)
            front = [o for o in others(f, tr.uid) if _feet(o) > _feet(k)]
            own = appearance.describe(image, k, front)
            if tracker.looks_unlike(tr, own):
                # The pose where the person was going is someone else's (they walked into the
                # place of the one now hidden): following it would hand the track to them.
                log.debug("frame %d: track %s not followed onto a pose in other colours (%.2f)", f, tr.id,
                          appearance.distance(tr.look, own))
                continue
            look = _describe(image, p) if front else own       # the same pixels when nobody is in front
            tracker.extend(tr, p, image)
            held.dets.append(_Det(p, tr.uid, look))
            break


def _feet(kp17: np.ndarray) -> float:
    """Image row of a pose's lowest seen keypoint (on a floor, the one further down is nearer)."""
    seen = kp17[kp17[:, 2] >= 0.5, 1]
    return float(seen.max()) if len(seen) else float(kp17[:, 1].max())


def _hip_velocity(hist) -> np.ndarray:
    """Median per-frame motion of the mid-hip over a track's recent poses (one pose that slid
    onto someone else does not move it)."""
    if len(hist) < 2:
        return np.zeros(2)
    hips = [((p.keypoints[23, :2] + p.keypoints[24, :2]) / 2).astype(np.float64) for _, p in hist]
    steps = [(hips[i + 1] - hips[i]) / max(1, hist[i + 1][0] - hist[i][0]) for i in range(len(hist) - 1)]
    return np.median(np.array(steps), axis=0)


def _identify(rows: list[_Held], confirmed: set[int], evidence: set[tuple[int, int]], fps: float,
              link: relink.LinkConfig | None, res: PassResult,
              still_cfg: StillConfig | None = None) -> None:
    """Drop poses of tracks never confirmed, of tracks that are static objects, and second
    poses of one body; join the fragments into people and write each person's number into their
    poses' ``id``."""
    obs: dict[int, relink.Obs] = {}
    frames: list[list[tuple[int, relink.Obs]]] = []
    for h in rows:
        h.dets = [d for d in h.dets if d.uid in confirmed]
    if still_cfg is not None:
        static = _static_tracks(rows, still_cfg)
        res.static_tracks = len(static)
        for h in rows:
            n = len(h.dets)
            h.dets = [d for d in h.dets if d.uid not in static]
            res.static_poses += n - len(h.dets)
    for h in rows:
        pairs = []
        for d in h.dets:
            o = relink.Obs(h.index, d.pose.coco17().astype(np.float64), float(d.pose.score), d.app)
            obs[id(d)] = o
            pairs.append((d.uid, o))
        frames.append(pairs)
    length: dict[int, int] = {}
    for pairs in frames:
        for uid, _ in pairs:
            length[uid] = length.get(uid, 0) + 1
    drop = set(relink.drop_duplicates(frames, length))
    res.duplicates = len(drop)
    for h in rows:
        h.dets = [d for d in h.dets if (h.index, d.uid) not in drop]
    relink.mark_crowded([[obs[id(d)] for d in h.dets] for h in rows])
    per_uid: dict[int, list[relink.Obs]] = {}
    for h in rows:
        for d in h.dets:
            per_uid.setdefault(d.uid, []).append(obs[id(d)])
    frags = [relink.Fragment(uid, o) for uid, o in per_uid.items()]
    res.fragments = len(frags)
    if link is not None:
        linker = relink.Linker(fps, link, {e for e in evidence if e[0] in per_uid and e[1] in per_uid})
        person = linker.link(frags)
        res.joins = linker.merges
        res.drifted = len(linker.dropped)
        if linker.dropped:          # poses standing on someone else's legs: wrong, not written
            for h in rows:
                h.dets = [d for d in h.dets if id(obs[id(d)]) not in linker.dropped]
    else:
        order = sorted(frags, key=lambda f: int(f.frames[0]))
        person = {f.uid: i for i, f in enumerate(order)}
    for f in sorted(frags, key=lambda f: int(f.frames[0])):
        log.debug("fragment %d: frames %d-%d (%d poses) -> person %d", f.uid, f.frames[0], f.frames[-1], len(f),
                  person[f.uid])
    owner = linker.fragment_of if link is not None else {}
    for h in rows:
        for d in h.dets:
            d.pose.id = person[owner.get(id(obs[id(d)]), d.uid)]     # a swap repaired moves poses


def _static_tracks(rows: list[_Held], cfg: StillConfig) -> set[int]:
    """Uids of the tracks that never moved as a body does (:func:`edgepose.analyze.still.is_static`)."""
    changes: dict[int, list[float | None]] = {}
    kps: dict[int, list[np.ndarray]] = {}
    for h in rows:
        for d in h.dets:
            changes.setdefault(d.uid, []).append(d.change)
            kps.setdefault(d.uid, []).append(d.pose.coco17().astype(np.float64))
    out = {u for u in changes if is_static(changes[u], np.array(kps[u]), cfg)}
    for u in sorted(out):
        log.debug("track %d is static (%d poses): dropped", u, len(changes[u]))
    return out


def _write_rows(path: Path, rows: list[_Held], res: PassResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids: set[int] = set()
    with open(path, "w") as fh:
        for h in rows:
            row = h.row()
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            res.poses += len(row["poses"])
            res.frames_with_people += bool(row["poses"])
            ids.update(p["id"] for p in row["poses"])
    res.ids = len(ids)


@dataclass
class AnalysisResult:
    """Everything ``edgepose analyze`` produced, and what to tell the user."""

    out: Path
    pass1: PassResult
    files: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    failed: bool = False
    performers: list[int] = field(default_factory=list)

    def summary_line(self) -> str:
        p = self.pass1
        return (f"{p.frames} frames, {len(self.performers)} performers ({p.ids} ids), {p.poses} poses, "
                f"{p.fps:.1f} fps -> {self.out}/poses.jsonl")


def analyze(source: str | Path, out: str | Path, cfg: AnalyzeConfig | None = None,
            engine: PoseEstimator | None = None, progress_stream: TextIO | None = None) -> AnalysisResult:
    """Analyse a recorded video or folder of frames into ``out`` (see the module docstring).

    Parameters
    ----------
    source:
        Video file or folder of frames.
    out:
        Output folder (created).
    cfg:
        Options; defaults suit a clip of up to twenty people (a line dance, a gym floor).
    engine:
        Pose estimator; the real BlazePose engine when None.
    progress_stream:
        Where the progress bar goes (None: no progress bar).

    Raises
    ------
    SourceError
        The source cannot be opened at all (nothing is written then).
    """
    cfg = cfg or AnalyzeConfig()
    out = Path(out)
    reader = FrameReader(source, cfg.folder_fps)
    out.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(cfg)
    progress = Progress(reader.info.frames, progress_stream) if progress_stream is not None else None
    tracker = Tracker(cfg.tracker)
    poses_path = out / "poses.jsonl"
    p1 = track_to_jsonl(reader, poses_path, engine, tracker, progress, cfg)
    res = AnalysisResult(out=out, pass1=p1, files={"poses": poses_path})
    if p1.error:
        res.messages.append(f"{p1.error}; the {p1.frames} frames read are in {poses_path}")
        res.failed = True
    if p1.truncated:
        res.messages.append(
            f"{source} ended after {p1.frames} of the {reader.info.frames} frames it claims (truncated or "
            f"corrupt file?); the results cover the frames read")
    if p1.static_tracks:
        res.messages.append(f"{p1.static_tracks} track(s) never moved as a body does (a notice board, a statue, "
                            f"a poster): their {p1.static_poses} poses were dropped")
    if p1.unreadable:
        res.messages.append(f"{p1.unreadable} frame(s) of {source} could not be decoded; their lines in "
                            f"{poses_path} carry an \"error\"")
    if p1.vfr:
        res.messages.append(f"{source} has a variable frame rate; times come from its timestamps")
    if p1.frames == 1:
        res.messages.append(f"{source} has a single frame: poses are exported, synchronisation needs more")
    if p1.poses == 0 and p1.frames:
        res.messages.append(f"nobody was found in the {p1.frames} frame(s) of {source}: no performer "
                            f"sequences, no synchronisation (is anyone fully in view?)")
    if not p1.poses and cfg.report and p1.frames:
        from edgepose.analyze.report import write_report

        res.files["report"] = write_report(
            out / "report.html", f"edgepose analysis: {Path(source).name}",
            {"source": str(source), "frames": p1.frames, "performers": "none"}, None, {}, list(res.messages))
    if p1.poses:
        _drop_non_people(res)
    if p1.poses:
        try:
            _post(source, reader, res, cfg)
        except Exception as e:  # the poses are safe on disk; say what is missing and why
            log.exception("pass 2 failed")
            res.messages.append(f"the exports/report could not be completed ({type(e).__name__}: {e}); "
                                f"{poses_path} is complete — re-run with -v for details")
    return res


def _drop_non_people(res: AnalysisResult) -> None:
    """Ids that never became a person (too brief, or a body the model hardly sees) leave poses.jsonl."""
    from edgepose.analyze import export, group

    plog = export.load_poses(res.files["poses"])
    keep = set(group.real_ids(plog))
    gone = sorted(set(plog.sequences) - keep)
    if not gone:
        return
    n = group.drop_ids(res.files["poses"], keep)
    res.pass1.poses -= n
    res.pass1.ids = len(keep)
    res.messages.append(f"{len(gone)} id(s) never became a person (seen under {group.MIN_SECONDS:g} s or with a "
                        f"body the model hardly sees: a bag, a reflection): their {n} poses were dropped")


def _post(source: str | Path, reader: FrameReader, res: AnalysisResult, cfg: AnalyzeConfig) -> None:
    """Pass 2: exports, synchronisation, annotated video and report, from poses.jsonl."""
    from edgepose.analyze import export, report
    from edgepose.analyze import sync as syncmod

    out = res.out
    plog = export.load_poses(res.files["poses"])
    for seq in plog.sequences.values():
        c, j = export.write_performer(seq, out / "performers")
        res.files[f"performer_{seq.id}_csv"], res.files[f"performer_{seq.id}_jsonl"] = c, j
    main = plog.performers()
    res.performers = main
    minor = sorted(set(plog.sequences) - set(main))
    if minor:
        res.messages.append(f"ids {', '.join(map(str, minor))} were seen in under a quarter of the frames or "
                            f"with low keypoint visibility (brief or doubtful detections): exported, left out "
                            f"of the synchronisation")
    g = None
    rate = plog.rate
    from edgepose.analyze.group import group_verdict

    verdict = group_verdict(plog, main)
    if len(main) >= 2 and not verdict.together:
        res.messages.append(f"not a group performing together ({verdict.reason}): no synchronisation scores")
    if len(main) >= 2 and plog.frame_count >= 3 and verdict.together:
        series = {i: (plog.sequences[i].t, syncmod.joint_angles(plog.sequences[i].keypoints, plog.sequences[i].layout))
                  for i in main}
        g = syncmod.group_sync(series, rate)
        res.files["sync"] = _write_sync_json(out / "sync.json", g)
    elif plog.frame_count >= 1 and len(main) < 2:
        res.messages.append(f"{len(main)} performer(s) in view for most of the clip: synchronisation needs two")
    best, worst = report.pick_moments(g.t, g.score) if g is not None else ([], [])
    thumbs: dict[str, list] = {"best": [], "worst": []}
    if cfg.annotate or best or worst:
        _annotate(reader, plog, g, out / "annotated.mp4" if cfg.annotate else None, rate,
                  {"best": best, "worst": worst}, thumbs)
        if cfg.annotate:
            res.files["video"] = out / "annotated.mp4"
    thumbs["best"].sort(key=lambda x: -x[1])
    thumbs["worst"].sort(key=lambda x: x[1])
    if cfg.report:
        summary = {"source": str(source), "frames": plog.frame_count, "duration (s)":
                   f"{(plog.times[-1] - plog.times[0]) if plog.frame_count else 0:.2f}",
                   "frame rate": f"{rate:.2f}", "performers": ", ".join(f"#{i}" for i in main) or "none",
                   "brief or doubtful detections": ", ".join(f"#{i}" for i in minor) or "none",
                   "group sync (mean)": f"{g.mean:.2f}" if g is not None else "n/a",
                   "a group performing together": ("yes" if verdict.together else f"no: {verdict.reason}"),
                   "analysis speed": f"{res.pass1.fps:.1f} fps"}
        res.files["report"] = report.write_report(out / "report.html", f"edgepose analysis: {Path(source).name}",
                                                  summary, g, thumbs, list(res.messages))


def _write_sync_json(path: Path, g) -> Path:
    def num(x: float) -> float | None:
        return None if x is None or not np.isfinite(x) else round(float(x), 4)

    data = {
        "method": "docs/sync.md", "ids": g.ids, "group_mean": num(g.mean),
        "pairs": [{"a": p.a, "b": p.b, "mean": num(p.mean), "lag_s": num(p.lag_s), "lag_corr": num(p.lag_corr),
                   "leader": p.leader, "aligned_mean": num(p.aligned_mean), "mirrored": num(p.mirrored)}
                  for p in g.pairs],
        "deviation_deg_mean": {str(i): num(float(np.nanmean(d))) if np.isfinite(d).any() else None
                               for i, d in g.deviation_deg.items()},
        "moves": [{"start_s": num(s), "end_s": num(e), "score": num(sc)} for s, e, sc in g.moves],
        "series": {"t": [num(x) for x in g.t], "group": [num(x) for x in g.score],
                   "pairs": {f"{p.a}-{p.b}": [num(x) for x in p.score] for p in g.pairs}},
    }
    path.write_text(json.dumps(data, separators=(",", ":")))
    return path


def _annotate(reader: FrameReader, plog, g, video_path: Path | None, rate: float,
              moments: dict[str, list[float]], thumbs: dict[str, list]) -> None:
    """Second read of the source: skeletons by id, labels, sync meter; grabs report thumbnails."""
    import cv2

    from edgepose.analyze.draw import draw_pose, draw_sync_meter

    by_frame: dict[int, list[tuple[int, np.ndarray, str]]] = {}
    for seq in plog.sequences.values():
        for f, kp in zip(seq.frames, seq.keypoints, strict=True):
            by_frame.setdefault(int(f), []).append((seq.id, kp, seq.layout))
    want = {k: sorted(v) for k, v in moments.items()}
    writer = None
    try:
        for rec in FrameReader(reader.path, reader.info.fps):
            if rec.image is None:
                continue
            img = rec.image.copy()
            for pid, kp, layout in by_frame.get(rec.index, []):
                draw_pose(img, kp, pid, layout=layout)
            score = None
            if g is not None and len(g.t):
                i = int(np.clip(np.searchsorted(g.t, rec.t), 0, len(g.t) - 1))
                score = float(g.score[i])
            draw_sync_meter(img, score)
            if video_path is not None:
                if writer is None:
                    h, w = img.shape[:2]
                    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), max(1.0, rate), (w, h))
                    if not writer.isOpened():
                        log.warning("cannot write %s (no mp4v encoder?); skipping the annotated video", video_path)
                        video_path = None
                        writer = None
                if writer is not None:
                    if img.shape[:2] != (reader.info.height, reader.info.width):
                        img_w = cv2.resize(img, (reader.info.width, reader.info.height))
                    else:
                        img_w = img
                    writer.write(img_w)
            for key, times in want.items():
                for t in list(times):
                    if rec.t + 0.5 / max(rate, 1.0) >= t:
                        scale = 300 / img.shape[1]
                        thumb = cv2.resize(img, (300, int(round(img.shape[0] * scale))), interpolation=cv2.INTER_AREA)
                        at = float(g.score[int(np.argmin(np.abs(g.t - t)))]) if g is not None else float("nan")
                        thumbs[key].append((t, at, thumb))
                        times.remove(t)
    except Exception as e:                      # a broken file: keep the video written so far
        log.warning("annotated video stopped early: %s", e)
    finally:
        if writer is not None:
            writer.release()
