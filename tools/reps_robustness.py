"""Rep counting under camera and timing changes the shared clips do not show.

For every exercise video in ``../shared/data/exercise`` (``rep_counts.json`` gives the program
and the true count) this makes transformed copies with OpenCV -- mirrored, half size, rotated
10 degrees, padded (the person smaller), cropped tighter, every 2nd frame dropped (played at half
the frame rate, or at the original rate: double tempo), re-timed to 24 fps, and trimmed by 15 %
at both ends -- runs the real engine on each once, caches the poses as JSON Lines, and feeds the
cached poses to :class:`edgepose.evaluate.session.Session` to count reps. Re-running only
re-counts (seconds), so counting logic can be iterated on; ``--fresh`` re-runs the engine.

Expected counts: the true count, except for trims, where it is an interval: at least the reps
wholly inside the kept frames and at most those that overlap them (from ``rep_end_frames`` or
``approx_bottom_or_peak_frames``).

    .venv/bin/python tools/reps_robustness.py [--videos squat_side_gym.mp4 ...] [--transforms mirror half ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgepose.evaluate.session import Session  # noqa: E402
from edgepose.pose import Pose  # noqa: E402
from edgepose.programs import load_program  # noqa: E402

DATA = ROOT / ".." / "shared" / "data" / "exercise"
TRIM = 0.15

log = logging.getLogger("reps_robustness")


@dataclass(frozen=True)
class Transform:
    """How to make one variant: which source frames to keep, at what rate, and an image map."""

    name: str
    image: Callable[[np.ndarray], np.ndarray] | None = None
    keep: Callable[[int, float], list[int]] | None = None  # (frames, fps) -> kept source indices
    fps: Callable[[float], float] | None = None  # source fps -> written fps


def _rotate(img: np.ndarray, deg: float = 10.0) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_CONSTANT)


def _pad(img: np.ndarray, share: float = 0.35) -> np.ndarray:
    """A border of ``share`` of the size on every side: the person is ~0.6x as large, same frame size."""
    h, w = img.shape[:2]
    py, px = int(h * share), int(w * share)
    big = cv2.copyMakeBorder(img, py, py, px, px, cv2.BORDER_CONSTANT, value=(40, 40, 40))
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def _crop(img: np.ndarray, share: float = 0.8) -> np.ndarray:
    """The central ``share`` of the frame, scaled back up (closer camera; limbs may leave the frame)."""
    h, w = img.shape[:2]
    ch, cw = int(h * share), int(w * share)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)


def _retime(n: int, fps: float, new_fps: float = 24.0) -> list[int]:
    dur = n / fps
    return sorted({min(n - 1, int(round(i * fps / new_fps))) for i in range(int(dur * new_fps))})


def _trim(n: int, _fps: float) -> list[int]:
    return list(range(int(n * TRIM), int(n * (1 - TRIM))))


TRANSFORMS: dict[str, Transform] = {t.name: t for t in (
    Transform("original"),  # the file as it is
    Transform("reencoded"),  # the same frames through the MP4 encoder once more
    Transform("mirror", image=lambda im: cv2.flip(im, 1)),
    Transform("half", image=lambda im: cv2.resize(im, (im.shape[1] // 2, im.shape[0] // 2),
                                                  interpolation=cv2.INTER_AREA)),
    Transform("rot10", image=_rotate),
    Transform("pad", image=_pad),
    Transform("crop", image=_crop),
    Transform("half_fps", keep=lambda n, f: list(range(0, n, 2)), fps=lambda f: f / 2),
    Transform("double_tempo", keep=lambda n, f: list(range(0, n, 2))),
    Transform("fps24", keep=_retime, fps=lambda f: 24.0),
    Transform("trim", keep=_trim),
)}


def _frame_count(path: Path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n, fps


def make_variant(src: Path, tr: Transform, out: Path) -> list[int]:
    """Write the transformed video; returns the source frame index of each written frame."""
    n, fps = _frame_count(src)
    keep = tr.keep(n, fps) if tr.keep else list(range(n))
    wanted = set(keep)
    cap = cv2.VideoCapture(str(src))
    writer = None
    i = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if i in wanted:
                if tr.image is not None:
                    img = tr.image(img)
                if writer is None:
                    h, w = img.shape[:2]
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"),
                                             tr.fps(fps) if tr.fps else fps, (w, h))
                writer.write(img)
            i += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return keep


def poses_for(video: Path, tr: Transform, cache: Path, fresh: bool) -> tuple[Path, list[int]]:
    """The cached pose stream of one variant (the engine is run once per variant)."""
    from edgepose.live.runner import RunOptions, run_session

    jl = cache / f"{video.stem}.{tr.name}.jsonl"
    idx = cache / f"{video.stem}.{tr.name}.keep.json"
    zs = cache / f"{video.stem}.{tr.name}.z.jsonl"
    if jl.exists() and idx.exists() and zs.exists() and not fresh:
        return jl, json.loads(idx.read_text())
    part = jl.with_suffix(".part")
    with open(zs, "w") as zfh:
        def write_z(res) -> None:  # the landmark depth, which the infer format leaves out
            zfh.write(json.dumps([None if p.z is None else [round(float(v), 1) for v in p.z]
                                  for p in res.poses]) + "\n")

        if tr.name == "original":  # the file itself, not a re-encoded copy
            keep = list(range(_frame_count(video)[0]))
            run_session(RunOptions(source=str(video), poses=part, extra_sinks=[write_z]))
        else:
            with tempfile.TemporaryDirectory() as td:
                mp4 = Path(td) / f"{video.stem}.{tr.name}.mp4"
                keep = make_variant(video, tr, mp4)
                run_session(RunOptions(source=str(mp4), poses=part, extra_sinks=[write_z]))
    part.replace(jl)
    idx.write_text(json.dumps(keep))
    return jl, keep


def count_from_poses(jsonl: Path, program: str) -> dict:
    """Re-feed a cached pose stream to a fresh session; returns its summary."""
    s = Session(load_program(program))
    zpath = jsonl.with_name(jsonl.name.replace(".jsonl", ".z.jsonl"))
    zlines = open(zpath) if zpath.exists() else None
    with open(jsonl) as fh:
        for line in fh:
            rec = json.loads(line)
            poses = [Pose.from_json(p) for p in rec.get("poses", [])]
            if zlines is not None:
                for p, z in zip(poses, json.loads(zlines.readline() or "[]"), strict=False):
                    if z is not None:
                        p.z = np.asarray(z, np.float32)
            s.update(poses, float(rec["t"]), (int(rec["width"]), int(rec["height"])))
    if zlines is not None:
        zlines.close()
    return s.summary()


def expected(v: dict, keep: list[int], transform: str, fps: float) -> tuple[int, int]:
    """(lowest, highest) acceptable count for a variant keeping these source frames.

    ``(-1, -1)``: not applicable -- a trim of a clip whose reps are not placed in time, or a
    double tempo that makes the reps quicker than the program's ``min_rep_s`` allows.
    """
    if transform == "double_tempo" and "rep_end_frames" in v and len(v["rep_end_frames"]) > 1:
        period = float(np.median(np.diff(v["rep_end_frames"]))) / fps / 2
        prog = load_program(v["program"])
        if prog.reps is not None and period < prog.reps.min_rep_s:
            return -1, -1
    if transform != "trim":
        return v["reps"], v["reps"]
    s, e = keep[0], keep[-1]
    if "rep_end_frames" in v:
        ends = v["rep_end_frames"]
        period = float(np.median(np.diff(ends))) if len(ends) > 1 else 30.0
        cycles = [(ends[i - 1] if i else ends[0] - period, ends[i]) for i in range(len(ends))]
    elif "approx_bottom_or_peak_frames" in v:
        cycles = [tuple(p) for p in v["approx_bottom_or_peak_frames"]]
    else:
        return -1, -1  # nothing to place the reps with: trims are skipped
    inside = sum(1 for a, b in cycles if a >= s and b <= e)
    overlap = sum(1 for a, b in cycles if b >= s and a <= e)
    return inside, overlap


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "edgepose-reps-cache")
    ap.add_argument("--videos", nargs="*", help="file names (default: all in rep_counts.json)")
    ap.add_argument("--transforms", nargs="*", default=list(TRANSFORMS), choices=list(TRANSFORMS))
    ap.add_argument("--fresh", action="store_true", help="re-run the engine even when poses are cached")
    ap.add_argument("--json", type=Path, help="write the rows here")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    truth = json.loads((a.data / "rep_counts.json").read_text())["videos"]
    if a.videos:
        truth = [v for v in truth if v["file"] in a.videos]
    a.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    names = a.transforms
    print(f"{'video':34s} " + " ".join(f"{n[:12]:>12s}" for n in names))
    for v in truth:
        cells = []
        for name in names:
            t0 = time.monotonic()
            jl, keep = poses_for(a.data / v["file"], TRANSFORMS[name], a.cache, a.fresh)
            lo, hi = expected(v, keep, name, _frame_count(a.data / v["file"])[1])
            if lo < 0:
                cells.append(f"{'n/a':>12s}")
                continue
            sm = count_from_poses(jl, v["program"])
            ok = lo <= sm["reps"] <= hi
            exp = str(lo) if lo == hi else f"{lo}-{hi}"
            cells.append(f"{sm['reps']:>5d}/{exp:<4s}{'ok' if ok else 'XX':>3s}")
            rows.append({"video": v["file"], "transform": name, "counted": sm["reps"], "expected": [lo, hi],
                         "ok": ok, "frames_with_person": sm["frames_with_person"], "frames": sm["frames"],
                         "seconds": round(time.monotonic() - t0, 1)})
        print(f"{v['file'][:34]:34s} " + " ".join(cells), flush=True)
    good = sum(r["ok"] for r in rows)
    exact_rows = [r for r in rows if r["expected"][0] == r["expected"][1]]
    print(f"within expected: {good}/{len(rows)}; exact on fixed counts: "
          f"{sum(r['ok'] for r in exact_rows)}/{len(exact_rows)}; "
          f"mean abs error (to the nearest end): "
          f"{np.mean([max(0, r['expected'][0] - r['counted'], r['counted'] - r['expected'][1]) for r in rows]):.3f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
