"""x86 vs aarch64 (emulated) parity of `edgepose infer`: the same code, models and images on both.

    .venv/bin/python tools/aarch64_parity.py run [--rev HEAD | --worktree] [--images A.jpg ...]
                                                 [--qemu-cpu cortex-a76] [--threads 2] [--nice 15]
    .venv/bin/python tools/aarch64_parity.py compare NATIVE.jsonl EMULATED.jsonl
    .venv/bin/python tools/aarch64_env.py            # only prepare / check the emulated Python

``run`` prepares the emulated aarch64 Python if needed (tools/aarch64_env.py: Debian arm64 CPython
under qemu-user, the device wheels from PyPI at the native versions; cached in ~/.cache/edgepose),
exports ``--rev`` with ``git archive`` (or uses the working tree as it is), then runs
``edgepose infer`` from that code natively (this venv) and under ``qemu-aarch64-static`` (niced:
it is about 50x slower), both with the same model files (the checkout's ``models/*.tflite`` beside the measured commit's
``manifest.toml``) and the same converted-model cache.

``compare`` pairs the people of each image (Hungarian on the mean distance of the 33 keypoints; a
pair whose median displacement exceeds 25 % of the person's height is not the same person) and
prints, per person: rank on each side, height, median / max keypoint displacement in px and in %
of the person's height (over all 33 points and over the points the native run calls visible).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import aarch64_env  # noqa: E402

K = "../shared/data/keypoints"
# Multi-person stills of the shared set (plus one two-person MPII frame), cheap to dear.
DEFAULT_IMAGES = [
    f"{K}/crowdpose/103319.jpg",
    f"{K}/coco/000000197388.jpg",
    f"{K}/aic/fa436c914fe4a8ec1ec5474af4d3820b84d17561.jpg",
    f"{K}/aic/ff945ae2e729f24eea992814639d59b3bdec8bd8.jpg",
    f"{K}/ochuman/000817.jpg",
    f"{K}/posetrack18/images/val/003418_mpii_test/000000.jpg",
    f"{K}/posetrack18/images/val/012834_mpii_test/000000.jpg",  # the plaza: 20 people
]
SAME_PERSON = 0.25  # a pair with median displacement above this fraction of the height is two people
VISIBLE = 0.5
_MAIN = "import sys; from edgepose.cli import main; sys.exit(main())"
_WHERE = ("import json, platform, edgepose, numpy, cv2, ai_edge_litert; print(json.dumps({'machine': "
          "platform.machine(), 'edgepose': edgepose.__file__, 'numpy': numpy.__version__, "
          "'cv2': cv2.__version__}))")


# ---------------------------------------------------------------- comparison
def _load(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["source"]] = r
    return out


def _kp(pose: dict) -> np.ndarray:
    return np.asarray(pose["keypoints"], dtype=np.float64)


def compare_image(nat: list[dict], emu: list[dict]) -> dict:
    """People of one image on both sides: pairs, displacements, who is missing."""
    a = [_kp(p) for p in nat]
    b = [_kp(p) for p in emu]
    people, paired_a, paired_b = [], set(), set()
    if a and b:
        cost = np.array([[np.linalg.norm(x[:, :2] - y[:, :2], axis=1).mean() for y in b] for x in a])
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            d = np.linalg.norm(a[i][:, :2] - b[j][:, :2], axis=1)
            h = max(float(nat[i]["box"][3]), 1.0)
            if np.median(d) > SAME_PERSON * h:
                continue
            vis = a[i][:, 2] >= VISIBLE
            dv = d[vis] if vis.any() else d
            people.append({
                "rank_x86": int(i), "rank_arm": int(j), "height_px": round(h, 1),
                "median_px": round(float(np.median(d)), 2), "max_px": round(float(d.max()), 2),
                "max_visible_px": round(float(dv.max()), 2),
                "median_pct_h": round(float(100 * np.median(d) / h), 3),
                "max_pct_h": round(float(100 * d.max() / h), 3),
                "max_visible_pct_h": round(float(100 * dv.max() / h), 3),
                "score_x86": round(float(nat[i]["score"]), 4), "score_arm": round(float(emu[j]["score"]), 4),
            })
            paired_a.add(int(i))
            paired_b.add(int(j))
    people.sort(key=lambda p: p["rank_x86"])
    return {
        "poses_x86": len(a), "poses_arm": len(b), "people": people,
        "only_x86": [{"rank": i, "height_px": round(float(nat[i]["box"][3]), 1)}
                     for i in range(len(a)) if i not in paired_a],
        "only_arm": [{"rank": j, "height_px": round(float(emu[j]["box"][3]), 1)}
                     for j in range(len(b)) if j not in paired_b],
    }


def compare(nat_path: Path, emu_path: Path) -> dict:
    nat, emu = _load(nat_path), _load(emu_path)
    images = {}
    for src in nat:
        if src not in emu:
            continue
        images[src] = compare_image(nat[src].get("poses", []), emu[src].get("poses", []))
    people = [p for r in images.values() for p in r["people"]]
    best = [p for r in images.values() for p in r["people"] if p["rank_x86"] == 0]

    def worst(rows: list[dict], key: str) -> float | None:
        return max((p[key] for p in rows), default=None)

    summary = {
        "images": len(images),
        "images_same_count": sum(r["poses_x86"] == r["poses_arm"] for r in images.values()),
        "images_identical": sum(r["poses_x86"] == r["poses_arm"] and not r["only_x86"] and
                                all(p["max_px"] == 0 for p in r["people"]) for r in images.values()),
        "poses_x86": sum(r["poses_x86"] for r in images.values()),
        "poses_arm": sum(r["poses_arm"] for r in images.values()),
        "matched": len(people),
        "only_x86": sum(len(r["only_x86"]) for r in images.values()),
        "only_arm": sum(len(r["only_arm"]) for r in images.values()),
        "rank_changes": sum(p["rank_x86"] != p["rank_arm"] for p in people),
        "best_max_px": worst(best, "max_px"),
        "best_max_pct_h": worst(best, "max_pct_h"),
        "max_px": worst(people, "max_px"),
        "max_pct_h": worst(people, "max_pct_h"),
        "max_visible_pct_h": worst(people, "max_visible_pct_h"),
        "median_of_median_px": round(float(np.median([p["median_px"] for p in people])), 3) if people else None,
        "people_over_2pct_h": sum(p["max_pct_h"] > 2.0 for p in people),
        "people_over_2pct_h_visible": sum(p["max_visible_pct_h"] > 2.0 for p in people),
        "images_not_in_both": len(set(nat) ^ set(emu)),
    }
    return {"summary": summary, "images": images}


def print_table(result: dict) -> None:
    head = (f"{'image':<44} {'x86/arm':>7} {'rank':>6} {'h px':>6} {'med px':>7} {'max px':>7} "
            f"{'maxvis':>7} {'med %h':>7} {'max %h':>7}")
    print(head)
    print("-" * len(head))
    for src, r in result["images"].items():
        name = "/".join(Path(src).parts[-3:])[-44:]
        counts = f"{r['poses_x86']}/{r['poses_arm']}"
        for k, p in enumerate(r["people"]):
            print(f"{name if k == 0 else '':<44} {counts if k == 0 else '':>7} "
                  f"{p['rank_x86']:>2}->{p['rank_arm']:<2} {p['height_px']:>6.0f} {p['median_px']:>7.2f} "
                  f"{p['max_px']:>7.2f} {p['max_visible_px']:>7.2f} {p['median_pct_h']:>7.2f} {p['max_pct_h']:>7.2f}")
        if not r["people"]:
            print(f"{name:<44} {counts:>7}")
        for side in ("only_x86", "only_arm"):
            for p in r[side]:
                print(f"{'':<44} {'':>7} {side}: rank {p['rank']}, height {p['height_px']:.0f} px")
    s = result["summary"]
    print(f"\n{s['images']} images, same pose count on {s['images_same_count']}, bit-identical on "
          f"{s['images_identical']}; poses x86 {s['poses_x86']} / arm {s['poses_arm']}, matched {s['matched']}, "
          f"only x86 {s['only_x86']}, only arm {s['only_arm']}, rank changes {s['rank_changes']}")
    print(f"best person: max {s['best_max_px']} px ({s['best_max_pct_h']} % h); every person: max "
          f"{s['max_px']} px ({s['max_pct_h']} % h; visible points {s['max_visible_pct_h']} % h); "
          f"people moved > 2 % h: {s['people_over_2pct_h']} (visible points: {s['people_over_2pct_h_visible']})")


# ---------------------------------------------------------------- running
def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def source_tree(rev: str | None) -> tuple[Path, str]:
    """The code to measure: ``git archive`` of ``rev`` (cached), or the working tree when None."""
    if rev is None:
        dirty = len([x for x in _git("status", "--porcelain", "--untracked-files=no").splitlines() if x])
        return ROOT, f"worktree at {_git('rev-parse', '--short=12', 'HEAD')} ({dirty} modified files)"
    sha = _git("rev-parse", f"{rev}^{{commit}}")
    dest = aarch64_env.cache_dir() / "parity" / f"src-{sha[:12]}"
    if not (dest / ".complete").exists():
        dest.mkdir(parents=True, exist_ok=True)
        aarch64_env.say(f"exporting {sha[:12]} with git archive into {dest}")
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        (dest / ".complete").write_text(sha + "\n")
    # The model files are not in git: link the checkout's beside the commit's own manifest.
    for f in sorted((ROOT / "models").iterdir()):
        if f.is_file() and not (dest / "models" / f.name).exists():
            (dest / "models" / f.name).symlink_to(f)
    return dest, sha


def _env(src: Path, extra: dict[str, str], site: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGEPOSE_LANDMARK")}
    env["PYTHONPATH"] = f"{site}{os.pathsep}{src}" if site else str(src)
    env["EDGEPOSE_MODELS"] = str(src / "models")
    return {**env, **extra}


def run_side(label: str, prefix: list[str], env: dict[str, str], images: list[str], out: Path,
             threads: int, src: Path) -> dict:
    where = subprocess.run(prefix + ["-P", "-c", _WHERE], env=env, cwd=ROOT, capture_output=True, text=True)
    if where.returncode != 0:
        raise SystemExit(f"{label}: the interpreter does not import edgepose:\n{where.stderr}")
    info = json.loads(where.stdout.strip().splitlines()[-1])
    if not Path(info["edgepose"]).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"{label}: edgepose came from {info['edgepose']}, not from {src}")
    cmd = prefix + ["-P", "-c", _MAIN, "infer", "--quiet", "--threads", str(threads), "--out", str(out), *images]
    aarch64_env.say(f"{label}: infer on {len(images)} images ({info['machine']}, numpy {info['numpy']}, "
                    f"cv2 {info['cv2']})")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    info["wall_s"] = round(time.monotonic() - t0, 1)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: infer failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    aarch64_env.say(f"{label}: done in {info['wall_s']} s")
    return info


def _nice(level: int) -> list[str]:
    """``nice`` to ``level`` (absolute: ``nice -n`` adds to the caller's own niceness)."""
    return ["nice", "-n", str(max(0, level - os.nice(0)))]


def cmd_run(a: argparse.Namespace) -> dict:
    emu = aarch64_env.prepare(a.qemu_cpu)
    src, label = source_tree(None if a.worktree else a.rev)
    tag = "worktree" if a.worktree else label[:12]
    out_dir = a.out or aarch64_env.cache_dir() / "parity" / f"{tag}-{a.qemu_cpu}"
    out_dir.mkdir(parents=True, exist_ok=True)
    nat_out, emu_out = out_dir / "x86_64.jsonl", out_dir / "aarch64.jsonl"
    meta = {"code": label, "qemu_cpu": a.qemu_cpu, "threads": a.threads, "images": a.images,
            "pins": emu.pins, "out_dir": str(out_dir)}
    meta["x86_64"] = run_side("x86_64", _nice(10) + [sys.executable], _env(src, {}),
                              a.images, nat_out, a.threads, src)
    meta["aarch64"] = run_side("aarch64 (qemu)", _nice(a.nice) + emu.argv(), _env(src, emu.env(), emu.site),
                               a.images, emu_out, a.threads, src)
    meta["slowdown"] = round(meta["aarch64"]["wall_s"] / max(meta["x86_64"]["wall_s"], 1e-3), 1)
    return {"meta": meta, **compare(nat_out, emu_out)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="prepare, run both sides, compare")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--rev", default="HEAD", help="commit to measure, exported with git archive (default HEAD)")
    g.add_argument("--worktree", action="store_true", help="measure the working tree as it is")
    r.add_argument("--images", nargs="+", default=DEFAULT_IMAGES, help="paths relative to the repo root")
    r.add_argument("--qemu-cpu", default="cortex-a76", choices=sorted(aarch64_env.CORES))
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--nice", type=int, default=15, help="niceness of the emulated run (default 15; the native one runs at 10)")
    r.add_argument("--out", type=Path, default=None, help="folder for the two JSONL files")
    c = sub.add_parser("compare", help="compare two infer outputs")
    c.add_argument("native", type=Path)
    c.add_argument("emulated", type=Path)
    a = ap.parse_args(argv)
    result = cmd_run(a) if a.cmd == "run" else compare(a.native, a.emulated)
    print_table(result)
    if "meta" in result:
        m = result["meta"]
        print(f"code {m['code']}; x86 {m['x86_64']['wall_s']} s, aarch64 (qemu {m['qemu_cpu']}) "
              f"{m['aarch64']['wall_s']} s ({m['slowdown']}x; wall clock on a shared machine: floors)")
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
