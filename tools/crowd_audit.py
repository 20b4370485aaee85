#!/usr/bin/env python3
"""A hand audit of ``edgepose analyze`` on crowd footage, repeatable: render, annotate, score.

The issue's crowd targets ("at least 80 % of clearly visible people tracked per frame, ids lasting
a second at most 1.5x the real number of people, a duplicate pose in at most 2 % of frames") need
the real people, which no tool can count. This tool renders what a person needs to count them,
and scores any later ``poses.jsonl`` against the annotation they wrote:

``render VIDEO POSES DIR``
    * ``DIR/id_NNN.png``: for every id, a contact sheet of up to 8 crops evenly over its life
      (frame number under each), so ids can be grouped into real people by eye; and
      ``DIR/ids_K.png``, the same sheets stacked a dozen ids to a page;
    * ``DIR/frame_NNNN.png``: ~12 evenly spaced frames with every tracked box and id drawn.
``draft POSES --frames N [N ...]``
    Prints a draft annotation: per sampled frame every tracked pose's box, labelled ``id<N>``.
    Edit it by hand: rename each entry to the real person (``P3``), delete people who are not
    clearly visible, add the people nobody tracked (an approximate box), list objects.
``score AUDIT POSES``
    Prints one JSON object; definitions:

    * **coverage**: on each annotated frame, annotated people matched one to one (Hungarian on
      box IoU >= ``--min-iou``) by a pose, over all annotated people (and the worst frame);
    * **ids over 1 s** (more frames than the frame rate, as ``tools/track_eval.py --summary``)
      against the annotation's ``people_count`` (real people seen in the clip);
    * **ids mixing people**: an id matched to two different annotated people on the annotated
      frames (a wrong identity);
    * **duplicate frames**: frames where two poses lie on one body (``relink.one_body``);
    * **object ids**: ids that lie on an annotated object (the notice board): at least half of
      their poses have 70 % of their keypoint box inside the object's box (a person walking past
      it is not one); ``object_poses`` are all their poses.

The annotation (``tests/data/vtest_audit.json``) is ours, of a public clip (OpenCV's
``vtest.avi``, Debian ``opencv-doc``): boxes and labels only, no pixels.

Usage:
    edgepose analyze /usr/share/doc/opencv-doc/examples/data/vtest.avi --out /tmp/vtest --no-report
    python tools/crowd_audit.py render VTEST /tmp/vtest/poses.jsonl /tmp/vtest_audit
    python tools/crowd_audit.py score tests/data/vtest_audit.json /tmp/vtest/poses.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
from track_eval import id_summary  # noqa: E402

from edgepose.analyze.relink import one_body  # noqa: E402

MIN_VIS = 0.3


def load_rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def pose_box(p: dict) -> np.ndarray:
    """``x1, y1, x2, y2`` around a pose's visible COCO-17 keypoints (all of them if too few)."""
    k = np.asarray(p["coco17"], float)
    sel = k[k[:, 2] >= MIN_VIS]
    if len(sel) < 4:
        sel = k
    return np.array([sel[:, 0].min(), sel[:, 1].min(), sel[:, 0].max(), sel[:, 1].max()])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def sampled_frames(n: int, count: int = 12) -> list[int]:
    """``count`` evenly spaced frame indices of an ``n``-frame clip (first and last excluded)."""
    return [int(round((i + 0.5) * n / count)) for i in range(count)]


def _colour(i: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(int(i) * 7919 + 1)
    c = rng.integers(60, 256, 3)
    return int(c[0]), int(c[1]), int(c[2])


def _read_frames(video: Path, want: set[int]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out: dict[int, np.ndarray] = {}
    i = 0
    last = max(want) if want else -1
    while i <= last:
        ok, img = cap.read()
        if not ok:
            break
        if i in want:
            out[i] = img
        i += 1
    cap.release()
    return out


def _crop(img: np.ndarray, box: np.ndarray, height: int = 160, width: int = 90) -> np.ndarray:
    x1, y1, x2, y2 = box
    h = max(y2 - y1, 10.0)
    cx = (x1 + x2) / 2
    y1, y2 = y1 - 0.12 * h, y2 + 0.12 * h
    half = (y2 - y1) * width / height / 2
    x1, x2 = cx - half, cx + half
    m = np.float32([[width / (x2 - x1), 0, -x1 * width / (x2 - x1)], [0, height / (y2 - y1), -y1 * height / (y2 - y1)]])
    return cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=(40, 40, 40))


def render(video: Path, poses: Path, out: Path, per_id: int = 8, n_frames: int = 12) -> dict:
    """Contact sheets of every id and annotated frames (see the module docstring)."""
    rows = load_rows(poses)
    out.mkdir(parents=True, exist_ok=True)
    life: dict[int, list[tuple[int, dict]]] = {}
    for r in rows:
        for p in r.get("poses") or []:
            life.setdefault(int(p["id"]), []).append((int(r["frame"]), p))
    picks: dict[int, list[tuple[int, dict]]] = {}
    for i, seq in life.items():
        idx = np.unique(np.linspace(0, len(seq) - 1, min(per_id, len(seq))).round().astype(int))
        picks[i] = [seq[j] for j in idx]
    frames = sampled_frames(len(rows), n_frames)
    want = {f for seq in picks.values() for f, _ in seq} | set(frames)
    imgs = _read_frames(video, want)
    sheets: dict[int, np.ndarray] = {}
    for i, seq in sorted(picks.items()):
        tiles = []
        for f, p in seq:
            t = _crop(imgs[f], pose_box(p)) if f in imgs else np.zeros((160, 90, 3), np.uint8)
            t = cv2.copyMakeBorder(t, 0, 16, 1, 1, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            cv2.putText(t, str(f), (3, 172), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(t)
        while len(tiles) < per_id:
            tiles.append(np.zeros_like(tiles[0]))
        head = np.zeros((tiles[0].shape[0], 110, 3), np.uint8)
        cv2.putText(head, f"id {i}", (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.7, _colour(i), 2, cv2.LINE_AA)
        cv2.putText(head, f"{len(life[i])} poses", (4, 70), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        cv2.putText(head, f"{life[i][0][0]}-{life[i][-1][0]}", (4, 95), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1)
        sheet = np.hstack([head, *tiles])
        sheets[i] = sheet
        cv2.imwrite(str(out / f"id_{i:03d}.png"), sheet)
    ids = sorted(sheets)
    for k in range(0, len(ids), 12):
        cv2.imwrite(str(out / f"ids_{k // 12}.png"), np.vstack([sheets[i] for i in ids[k:k + 12]]))
    by_frame = {int(r["frame"]): r.get("poses") or [] for r in rows}
    for f in frames:
        if f not in imgs:
            continue
        img = imgs[f].copy()
        for p in by_frame.get(f, []):
            b = pose_box(p).round().astype(int)
            c = _colour(int(p["id"]))
            cv2.rectangle(img, (b[0], b[1]), (b[2], b[3]), c, 2)
            cv2.putText(img, str(p["id"]), (b[0], max(12, b[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 2, cv2.LINE_AA)
        cv2.putText(img, f"frame {f}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        cv2.imwrite(str(out / f"frame_{f:04d}.png"), img)
    return {"ids": len(sheets), "frames": frames, "out": str(out)}


def draft(poses: Path, frames: list[int]) -> dict:
    """Every tracked box of the given frames, labelled by id, for a person to correct."""
    by_frame = {int(r["frame"]): r.get("poses") or [] for r in load_rows(poses)}
    return {"frames": {str(f): [{"p": f"id{p['id']}", "box": [round(float(v)) for v in pose_box(p)]}
                                for p in by_frame.get(f, [])] for f in frames}}


def _on_object(b: np.ndarray, objects: list[np.ndarray]) -> bool:
    """70 % of the box ``b`` inside one of the object boxes."""
    area = max(1e-6, float((b[2] - b[0]) * (b[3] - b[1])))
    for o in objects:
        w = min(b[2], o[2]) - max(b[0], o[0])
        h = min(b[3], o[3]) - max(b[1], o[1])
        if w > 0 and h > 0 and w * h / area >= 0.7:
            return True
    return False


def score(audit: dict, poses: Path, min_iou: float = 0.3) -> dict:
    """Score a ``poses.jsonl`` against a hand annotation (see the module docstring)."""
    rows = load_rows(poses)
    by_frame = {int(r["frame"]): r.get("poses") or [] for r in rows}
    objects = [np.asarray(o["box"], float) for o in audit.get("objects", [])]
    on: dict[int, list[bool]] = {}
    for ps in by_frame.values():
        for p in ps:
            on.setdefault(int(p["id"]), []).append(_on_object(pose_box(p), objects))
    obj_ids = {i for i, v in on.items() if 2 * sum(v) >= len(v)}
    people_of: dict[int, set[str]] = {}
    per_frame = {}
    seen = total = 0
    for key, people in sorted(audit["frames"].items(), key=lambda kv: int(kv[0])):
        f = int(key)
        ps = [p for p in by_frame.get(f, []) if int(p["id"]) not in obj_ids]
        gt = [np.asarray(a["box"], float) for a in people]
        m = np.array([[iou(g, pose_box(p)) for p in ps] for g in gt]) if gt and ps else np.zeros((len(gt), 0))
        hit = 0
        if m.size:
            gi, pi = linear_sum_assignment(-m)
            for g, p in zip(gi, pi, strict=True):
                if m[g, p] >= min_iou:
                    hit += 1
                    people_of.setdefault(int(ps[p]["id"]), set()).add(people[g]["p"])
        per_frame[f] = {"visible": len(gt), "tracked": hit, "poses": len(by_frame.get(f, []))}
        seen += hit
        total += len(gt)
    summ = id_summary(Path(poses))
    obj_poses = sum(len(on[i]) for i in obj_ids)
    shares = [v["tracked"] / v["visible"] for v in per_frame.values() if v["visible"]]
    n_people = int(audit["people_count"])
    dup = sum(any(one_body(np.asarray(ps[i]["coco17"], float), np.asarray(ps[j]["coco17"], float))
                  for i in range(len(ps)) for j in range(i + 1, len(ps))) for ps in by_frame.values())
    return {
        "annotated_frames": len(per_frame),
        "visible_people": total,
        "coverage": round(seen / max(1, total), 4),
        "worst_frame_coverage": round(min(shares), 4) if shares else None,
        "people_count": n_people,
        "ids": summ["ids"],
        "ids_over_1s": summ["ids_over_1s"],
        "ids_over_1s_per_person": round(summ["ids_over_1s"] / max(1, n_people), 3),
        "ids_mixing_people": {str(i): sorted(s) for i, s in sorted(people_of.items()) if len(s) > 1},
        "duplicate_frames": round(dup / max(1, len(rows)), 4),
        "poses": sum(len(ps) for ps in by_frame.values()),
        "object_poses": obj_poses,
        "object_ids": sorted(obj_ids),
        "per_frame": per_frame,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="contact sheets of every id and annotated frames")
    r.add_argument("video", type=Path)
    r.add_argument("poses", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--frames", type=int, default=12, help="evenly spaced frames to draw")
    d = sub.add_parser("draft", help="a draft annotation of some frames from a poses.jsonl")
    d.add_argument("poses", type=Path)
    d.add_argument("--frames", type=int, nargs="+", required=True)
    s = sub.add_parser("score", help="score a poses.jsonl against an annotation")
    s.add_argument("audit", type=Path)
    s.add_argument("poses", type=Path)
    s.add_argument("--min-iou", type=float, default=0.3)
    s.add_argument("--brief", action="store_true", help="leave out the per-frame figures")
    a = ap.parse_args(argv)
    if a.cmd == "render":
        res = render(a.video, a.poses, a.out, n_frames=a.frames)
    elif a.cmd == "draft":
        res = draft(a.poses, a.frames)
    else:
        res = score(json.loads(a.audit.read_text()), a.poses, a.min_iou)
        if a.brief:
            res.pop("per_frame")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
