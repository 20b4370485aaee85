"""MediaPipe's own Pose pipeline as the baseline edgepose is compared against.

The baseline is the legacy ``mp.solutions.pose.Pose`` of ``mediapipe==0.10.14`` with
``model_complexity=1``: the same two models edgepose runs (pose_detection.tflite +
pose_landmark_full.tflite). mediapipe 0.10.14 needs ``numpy<2``, so it is never a project
dependency: it lives in its own venv (``.venv-mediapipe`` at the repo root, gitignored), made by
:func:`ensure_venv`, and runs in a subprocess (``tools/_mp_worker.py``) that writes JSON Lines in
edgepose's ``infer`` format (plus a per-frame ``"ms"``: wall time of ``pose.process()``).

Usage, from the repo root::

    .venv/bin/python tools/mediapipe_baseline.py images IMG... --out FILE.jsonl
    .venv/bin/python tools/mediapipe_baseline.py video VIDEO --out FILE.jsonl [--max-frames N]
    .venv/bin/python tools/mediapipe_baseline.py score [--poses FILE.jsonl]
    .venv/bin/python tools/mediapipe_baseline.py measure [--json docs/mediapipe_baseline.json]

``score`` runs the baseline on every annotated image of ``../shared/data`` (the set
``../shared/tools/check_contracts.py infer`` uses) and scores it with that script's own
``score_poses`` (PCK@0.2 all/matched, people recall, OKS AP with pycocotools, median joint-angle
error); with ``--poses`` it scores an existing JSONL instead (e.g. edgepose's own output), so both
sides are scored by the same code. ``measure`` does ``score`` plus the two reference videos and
writes the figures to ``docs/mediapipe_baseline.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("edgepose.tools.mediapipe_baseline")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO / ".venv-mediapipe"
DEFAULT_DATA = REPO / ".." / "shared" / "data"
SHARED_TOOLS = REPO / ".." / "shared" / "tools"
WORKER = Path(__file__).resolve().parent / "_mp_worker.py"
DEFAULT_JSON = REPO / "docs" / "mediapipe_baseline.json"
REFERENCE_VIDEOS = ("video/walking_toward_camera.mp4", "video/dance_single_office.mp4")

# What the baseline venv gets. Versions pinned to the set that resolved and imported on
# Python 3.11 / x86_64 (mediapipe also pulls opencv-contrib-python 4.11, the last numpy-1 line).
REQUIREMENTS = ("mediapipe==0.10.14", "numpy==1.26.4", "opencv-python-headless==4.11.0.86")
_PROBE = "import mediapipe, numpy, cv2; assert mediapipe.__version__ == '0.10.14', mediapipe.__version__"


class BaselineError(RuntimeError):
    """The baseline venv or worker failed; the message says what to do."""


# ------------------------------------------------------------------------------------ venv
def venv_python(path: Path) -> Path:
    """The interpreter of the venv at ``path``."""
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _venv_works(path: Path) -> bool:
    py = venv_python(path)
    if not py.exists():
        return False
    p = subprocess.run([str(py), "-c", _PROBE], capture_output=True, text=True)
    return p.returncode == 0


def ensure_venv(path: Path = DEFAULT_VENV, python: str | None = None) -> Path:
    """Create (or reuse) the baseline venv and return its python.

    Idempotent: an existing venv where ``import mediapipe`` (0.10.14), numpy and cv2 work is
    reused as is; otherwise the venv is created (``python -m venv``) and the pinned
    :data:`REQUIREMENTS` are installed with pip.

    Raises
    ------
    BaselineError
        When venv creation or pip fails (the message carries pip's last lines).
    """
    path = Path(path)
    if _venv_works(path):
        log.info("reusing baseline venv %s", path)
        return venv_python(path)
    base = python or getattr(sys, "_base_executable", None) or sys.executable
    log.info("creating baseline venv %s with %s", path, base)
    steps = [
        [base, "-m", "venv", str(path)],
        [str(venv_python(path)), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
    ]
    for cmd in steps:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-5:])
            raise BaselineError(f"`{' '.join(cmd[:4])} ...` failed (exit {p.returncode}):\n{tail}\n"
                                f"fix the cause (network to PyPI? Python 3.9-3.12 x86_64/aarch64?) "
                                f"or delete {path} and retry")
    if not _venv_works(path):
        raise BaselineError(f"{path} was built but `import mediapipe` fails there; delete it and retry")
    return venv_python(path)


# ---------------------------------------------------------------------------------- worker
@dataclass
class RunSummary:
    """What one worker run did (from its last stdout line and the JSONL it wrote)."""

    frames: int
    with_pose: int
    errors: int
    mean_ms: float | None
    median_ms: float | None
    loop_s: float
    out: str

    @property
    def fps(self) -> float | None:
        """Frames per second of ``pose.process()`` alone (1000 / mean ms)."""
        return round(1000.0 / self.mean_ms, 2) if self.mean_ms else None

    def line(self) -> str:
        ms = f"{self.mean_ms:.1f} (median {self.median_ms:.1f})" if self.mean_ms is not None else "-"
        loop_fps = self.frames / self.loop_s if self.loop_s > 0 else 0.0
        return (f"{self.frames} frames, {self.with_pose} with a pose, {self.errors} errors, "
                f"{ms} ms/frame in pose.process() ({self.fps} fps; {loop_fps:.1f} fps with decode) "
                f"-> {self.out}")


def run_worker(args: Sequence[str], out: Path, venv: Path = DEFAULT_VENV) -> RunSummary:
    """Run ``_mp_worker.py`` in the baseline venv (made if needed) and return its summary."""
    py = ensure_venv(venv)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(py), str(WORKER), *args, "--out", str(out)]
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    last = (p.stdout.strip().splitlines() or [""])[-1]
    try:
        s = json.loads(last)
    except json.JSONDecodeError:
        tail = "\n".join(p.stderr.strip().splitlines()[-5:])
        raise BaselineError(f"MediaPipe worker exited {p.returncode} without a summary:\n{tail}") from None
    return RunSummary(frames=s["frames"], with_pose=s["with_pose"], errors=s["errors"],
                      mean_ms=s["mean_ms"], median_ms=s["median_ms"], loop_s=s["loop_s"], out=str(out))


def run_images(paths: Sequence[str | Path], out: Path, venv: Path = DEFAULT_VENV) -> RunSummary:
    """MediaPipe Pose (``static_image_mode=True``) on each image; one JSONL line per image."""
    return run_worker(["images", *map(str, paths)], out, venv)


def run_video(path: str | Path, out: Path, max_frames: int | None = None,
              venv: Path = DEFAULT_VENV) -> RunSummary:
    """MediaPipe Pose (``static_image_mode=False``, tracking) on a video; one line per frame."""
    extra = ["--max-frames", str(max_frames)] if max_frames else []
    return run_worker(["video", str(path), *extra], out, venv)


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON Lines file; a bad line raises ValueError naming file and line."""
    rows = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path} line {n} is not JSON ({e})") from None
    return rows


# ---------------------------------------------------------------------------------- scoring
def _shared_scorer():
    """``check_contracts`` from ../shared/tools (it imports ``coco_eval`` itself)."""
    tools = SHARED_TOOLS.resolve()
    if not (tools / "check_contracts.py").exists():
        raise BaselineError(f"{tools}/check_contracts.py not found: the shared scorer must sit at "
                            "../shared/tools beside the repo")
    if str(tools) not in sys.path:
        sys.path.insert(0, str(tools))
    import check_contracts  # noqa: PLC0415

    return check_contracts


def annotated_images(data: Path = DEFAULT_DATA) -> tuple[dict[Path, dict], list[Path]]:
    """Ground truth (normalised to COCO-17) per annotation file, and every annotated image path.

    Same set as ``check_contracts.py infer``: keypoints/*/*.json except MPII, plus
    tracking/*/annotations.json.
    """
    cc = _shared_scorer()
    gts: dict[Path, dict] = {}
    for f in cc.gt_files(Path(data).resolve()):
        with open(f) as fh:
            gts[f] = cc.coco_eval.normalise_gt(json.load(fh))[0]
    if not gts:
        raise BaselineError(f"no keypoint ground truth under {data} (expected keypoints/*/*.json)")
    paths = sorted({(f.parent / im["file_name"]).resolve() for f, g in gts.items() for im in g["images"]})
    return gts, paths


def score_rows(rows: list[dict], data: Path = DEFAULT_DATA) -> dict:
    """Score JSONL rows (edgepose ``infer`` format) on the annotated images.

    Returns ``{"overall": {...}, "per_file": {relative gt path: {...}}}`` with the figures of
    ``check_contracts.score_poses``. Images with no row count as no poses.
    """
    cc = _shared_scorer()
    data = Path(data).resolve()
    gts, _ = annotated_images(data)
    by_src = {os.path.realpath(r["source"]): r.get("poses") or [] for r in rows if "source" in r}

    def poses_of(f: Path, im: dict) -> list[dict]:
        return by_src.get(os.path.realpath(f.parent / im["file_name"]), [])

    per_file = {str(f.relative_to(data)): cc.score_poses({f: g}, poses_of) for f, g in gts.items()}
    return {"overall": cc.score_poses(gts, poses_of), "per_file": per_file}


# --------------------------------------------------------------------------------- measure
def measure(data: Path = DEFAULT_DATA, venv: Path = DEFAULT_VENV, workdir: Path | None = None,
            videos: Sequence[str] = REFERENCE_VIDEOS, progress: Callable[[str], None] = log.info) -> dict:
    """The whole baseline: annotated images scored + reference videos timed."""
    data = Path(data).resolve()
    work = Path(workdir or tempfile.mkdtemp(prefix="mp_baseline_"))
    _, paths = annotated_images(data)
    img = run_images(paths, work / "images.jsonl", venv)
    progress(f"images: {img.line()}")
    scores = score_rows(read_jsonl(work / "images.jsonl"), data)
    progress(f"images: PCK@0.2 all {scores['overall']['pck_all']}, matched {scores['overall']['pck_matched']}")
    vids = {}
    for v in videos:
        s = run_video(data / v, work / (Path(v).stem + ".jsonl"), venv=venv)
        progress(f"{v}: {s.line()}")
        vids[Path(v).name] = {"frames": s.frames, "with_pose": s.with_pose,
                              "with_pose_fraction": round(s.with_pose / s.frames, 4) if s.frames else 0.0,
                              "mean_ms": s.mean_ms, "median_ms": s.median_ms, "fps_process": s.fps,
                              "fps_with_decode": round(s.frames / s.loop_s, 2) if s.loop_s else None}
    return {
        "pipeline": "mediapipe==0.10.14 mp.solutions.pose.Pose(model_complexity=1)",
        "models": ["pose_detection.tflite", "pose_landmark_full.tflite"],
        "images_mode": "static_image_mode=True",
        "video_mode": "static_image_mode=False (tracking, MediaPipe smoothing)",
        "score_rule": "mean visibility of the 33 landmarks (legacy API hides the pose flag)",
        "max_people": 1,
        "machine": _machine(),
        "images": {"count": img.frames, "with_pose": img.with_pose, "mean_ms": img.mean_ms,
                   "median_ms": img.median_ms,
                   **scores},
        "videos": vids,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


# -------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="MediaPipe Pose baseline (own venv) -> edgepose JSONL, scores")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="baseline venv (default .venv-mediapipe)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data folder (default ../shared/data)")
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("venv", help="create or check the baseline venv")
    pi = sub.add_parser("images", help="run on images")
    pi.add_argument("paths", nargs="+")
    pi.add_argument("--out", type=Path, required=True)
    pv = sub.add_parser("video", help="run on a video (tracking mode)")
    pv.add_argument("path")
    pv.add_argument("--out", type=Path, required=True)
    pv.add_argument("--max-frames", type=int)
    ps = sub.add_parser("score", help="score the baseline (or --poses FILE) on the annotated images")
    ps.add_argument("--poses", type=Path, help="score this JSONL instead of running the baseline")
    ps.add_argument("--per-file", action="store_true", help="print per-file figures too")
    pm = sub.add_parser("measure", help="score + reference videos, write the JSON")
    pm.add_argument("--json", type=Path, default=DEFAULT_JSON)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if a.what == "venv":
            print(ensure_venv(a.venv))
        elif a.what == "images":
            s = run_images(a.paths, a.out, a.venv)
            print(s.line())
            return 1 if s.errors else 0
        elif a.what == "video":
            s = run_video(a.path, a.out, a.max_frames, a.venv)
            print(s.line())
            return 1 if s.errors else 0
        elif a.what == "score":
            if a.poses is None:
                _, paths = annotated_images(a.data)
                a.poses = Path(tempfile.mkdtemp(prefix="mp_baseline_")) / "images.jsonl"
                print(run_images(paths, a.poses, a.venv).line(), file=sys.stderr)
            res = score_rows(read_jsonl(a.poses), a.data)
            if not a.per_file:
                res.pop("per_file")
            print(json.dumps(res, indent=2))
        elif a.what == "measure":
            res = measure(a.data, a.venv)
            a.json.parent.mkdir(parents=True, exist_ok=True)
            a.json.write_text(json.dumps(res, indent=2) + "\n")
            o = res["images"]["overall"]
            print(f"PCK@0.2 all {o['pck_all']}, matched {o['pck_matched']}, recall {o['recall_people']} "
                  f"of {o['people']}, AP {o['ap_mean']}, angle err {o['angle_err_median_deg']} deg -> {a.json}")
    except (BaselineError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
