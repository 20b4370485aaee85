#!/usr/bin/env python3
"""Multi-person tracking scored with the standard metrics: CLEAR MOT (MOTA) and IDF1.

Compares the poses ``edgepose analyze`` wrote (``poses.jsonl``, one line per frame, every pose with
an ``id``) with a ground truth that gives each annotated person a ``track_id`` (PoseTrack / COCO
style ``annotations.json``, as in ``../shared/data/tracking/*/``).

Definitions (the ones TrackEval implements):

* A ground-truth person and a predicted pose *match* in a frame when their COCO object keypoint
  similarity (OKS) is at least ``--min-oks`` (default 0.5); each frame is matched one to one by
  the Hungarian algorithm on OKS (CLEAR MOT keeps a match from the previous frame while it still
  clears the threshold).
* CLEAR MOT (Bernardin & Stiefelhagen 2008): ``MOTA = 1 - (FN + FP + IDSW) / GT`` with FN the
  unmatched ground-truth people, FP the unmatched predictions, IDSW the times a ground-truth track
  is matched to another predicted id than at its previous match. ``MOTP`` is the mean OKS of the
  matches.
* IDF1 (Ristani et al. 2016): one global one-to-one assignment of predicted ids to ground-truth
  tracks maximising the frames they match (IDTP); ``IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN)``.

Ground truth often labels only some of the people in view (PoseTrack labels a subset), so a
prediction on an unlabelled person is not a false positive there. Both are reported: with every
unmatched prediction counted (``mota``, ``idf1``) and with predictions that match no labelled
person left out (``mota_no_fp``, ``idf1_labelled``), the latter as ``check_contracts.py`` does.

Without ground truth (``--summary``), what can be read from the ids alone: how many ids, how many
last over a second (``ids_over_1s``: compare with the real number of people), poses per frame, and
the share of frames where two poses lie on one body (``duplicate_frames``, by
``edgepose.analyze.relink.one_body``).

Usage:
    edgepose analyze ../shared/data/tracking/bonn_060470979/frames --out /tmp/bonn
    python tools/track_eval.py ../shared/data/tracking/bonn_060470979/annotations.json /tmp/bonn/poses.jsonl
    python tools/track_eval.py --summary /tmp/trio/poses.jsonl
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgepose.analyze.relink import one_body  # noqa: E402
from edgepose.analyze.tracking import oks_matrix  # noqa: E402
from edgepose.skeleton import COCO_INDEX  # noqa: E402


@dataclass
class Person:
    track: int
    k: np.ndarray  # (17, 2)
    v: np.ndarray  # (17,)


@dataclass
class TrackScores:
    frames: int
    gt: int
    predictions: int
    matches: int
    fn: int
    fp: int
    fp_on_labelled: int  # predictions that overlap a labelled person but lost the one-to-one match
    idsw: int
    mota: float
    mota_no_fp: float
    motp_oks: float
    idtp: int
    idf1: float
    idf1_labelled: float
    gt_tracks: int
    predicted_ids: int
    predicted_ids_on_labelled: int
    recall: float


def load_gt(path: Path) -> list[list[Person]]:
    """Per frame (images sorted by file name): the annotated people, COCO-17, with track ids."""
    raw = json.loads(path.read_text())
    names = raw["categories"][0]["keypoints"]
    frames = []
    for im in sorted(raw["images"], key=lambda i: i["file_name"]):
        people = []
        for a in raw["annotations"]:
            if a["image_id"] != im["id"] or not a.get("num_keypoints", 1):
                continue
            k = np.asarray(a["keypoints"], float).reshape(-1, 3)
            out, vis = np.zeros((17, 2)), np.zeros(17)
            for src, n in enumerate(names):
                if n in COCO_INDEX and k[src, 2] > 0:
                    out[COCO_INDEX[n]], vis[COCO_INDEX[n]] = k[src, :2], 1.0
            if vis.sum() > 0:
                people.append(Person(int(a["track_id"]), out, vis))
        frames.append(people)
    return frames


def load_predictions(path: Path, n_frames: int) -> list[list[Person]]:
    """Per frame (by the ``frame`` field): the predicted poses with their ids."""
    frames: list[list[Person]] = [[] for _ in range(n_frames)]
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        f = row.get("frame")
        if not isinstance(f, int) or not 0 <= f < n_frames:
            continue
        for p in row.get("poses") or []:
            c = np.asarray(p["coco17"], float)
            frames[f].append(Person(int(p["id"]), c[:, :2], c[:, 2]))
    return frames


def _oks(gt: list[Person], pred: list[Person]) -> np.ndarray:
    if not gt or not pred:
        return np.zeros((len(gt), len(pred)))
    a = np.stack([g.k for g in gt])
    va = np.stack([g.v for g in gt])
    area = np.array([max(1.0, float(np.ptp(g.k[g.v > 0, 0]) * np.ptp(g.k[g.v > 0, 1]))) if (g.v > 0).sum() > 1
                     else 1.0 for g in gt])
    b = np.stack([p.k for p in pred])
    vb = np.stack([p.v for p in pred])
    return oks_matrix(a, np.where(va > 0, 1.0, 0.0), b, vb, area, 0.3)


def evaluate(gt: list[list[Person]], pred: list[list[Person]], min_oks: float = 0.5) -> TrackScores:
    n_gt = sum(len(f) for f in gt)
    n_pred = sum(len(f) for f in pred)
    matches = idsw = fp_lab = 0
    oks_sum = 0.0
    last: dict[int, int] = {}  # gt track -> predicted id at its last match
    pair_frames: dict[tuple[int, int], int] = {}
    gt_dets: dict[int, int] = {}
    pred_dets: dict[int, int] = {}
    pred_dets_lab: dict[int, int] = {}
    for g, p in zip(gt, pred, strict=True):
        for x in g:
            gt_dets[x.track] = gt_dets.get(x.track, 0) + 1
        for y in p:
            pred_dets[y.track] = pred_dets.get(y.track, 0) + 1
        s = _oks(g, p)
        if s.size:
            cost = np.where(s >= min_oks, -s, 0.0)
            # CLEAR MOT: a previous pairing that still clears the threshold is kept
            for i, x in enumerate(g):
                if x.track in last:
                    for j, y in enumerate(p):
                        if y.track == last[x.track] and s[i, j] >= min_oks:
                            cost[i, j] -= 10.0
            rows, cols = linear_sum_assignment(cost)
            pairs = [(i, j) for i, j in zip(rows, cols, strict=True) if s[i, j] >= min_oks]
        else:
            pairs = []
        matched_pred = {j for _, j in pairs}
        for i, j in pairs:
            matches += 1
            oks_sum += float(s[i, j])
            t, pid = g[i].track, p[j].track
            if t in last and last[t] != pid:
                idsw += 1
            last[t] = pid
        for j, y in enumerate(p):
            on_label = bool(s.size) and float(s[:, j].max()) >= min_oks
            if on_label:
                pred_dets_lab[y.track] = pred_dets_lab.get(y.track, 0) + 1
                if j not in matched_pred:
                    fp_lab += 1
        # IDF1 counts every frame a track pair overlaps, independent of the per-frame assignment
        for i, x in enumerate(g):
            for j, y in enumerate(p):
                if s.size and s[i, j] >= min_oks:
                    pair_frames[(x.track, y.track)] = pair_frames.get((x.track, y.track), 0) + 1
    fn = n_gt - matches
    fp = n_pred - matches
    tracks, ids = sorted(gt_dets), sorted(pred_dets)
    idtp = 0
    if tracks and ids:
        m = np.zeros((len(tracks), len(ids)))
        for (t, pid), n in pair_frames.items():
            m[tracks.index(t), ids.index(pid)] = n
        r, c = linear_sum_assignment(-m)
        idtp = int(sum(m[a, b] for a, b in zip(r, c, strict=True)))
    idf1 = 2 * idtp / max(1, n_gt + n_pred)
    n_pred_lab = sum(pred_dets_lab.values())
    idf1_lab = 2 * idtp / max(1, n_gt + n_pred_lab)
    return TrackScores(
        frames=len(gt), gt=n_gt, predictions=n_pred, matches=matches, fn=fn, fp=fp, fp_on_labelled=fp_lab,
        idsw=idsw, mota=round(1 - (fn + fp + idsw) / max(1, n_gt), 4),
        mota_no_fp=round(1 - (fn + idsw) / max(1, n_gt), 4),
        motp_oks=round(oks_sum / max(1, matches), 4), idtp=idtp, idf1=round(idf1, 4),
        idf1_labelled=round(idf1_lab, 4), gt_tracks=len(tracks), predicted_ids=len(ids),
        predicted_ids_on_labelled=len(pred_dets_lab), recall=round(matches / max(1, n_gt), 4))


def id_summary(path: Path) -> dict:
    """Ids, ids lasting over a second, poses per frame and duplicate-pose frames of a poses.jsonl."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    times = [r.get("t", 0.0) for r in rows]
    d = np.diff(times)
    d = d[d > 0]
    rate = float(1.0 / np.median(d)) if len(d) else 30.0
    frames_of: dict[int, int] = {}
    dup = 0
    for r in rows:
        poses = r.get("poses") or []
        for p in poses:
            frames_of[p["id"]] = frames_of.get(p["id"], 0) + 1
        k = [np.asarray(p["coco17"], float) for p in poses]
        dup += any(one_body(k[i], k[j]) for i in range(len(k)) for j in range(i + 1, len(k)))
    n = max(1, len(rows))
    return {"frames": len(rows), "rate": round(rate, 2), "ids": len(frames_of),
            "ids_over_1s": sum(v > rate for v in frames_of.values()),
            "poses_per_frame": round(sum(frames_of.values()) / n, 3),
            "frames_with_a_pose": round(sum(bool(r.get("poses")) for r in rows) / n, 4),
            "duplicate_frames": round(dup / n, 4),
            "frames_per_id": dict(sorted(frames_of.items()))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("annotations", type=Path, nargs="?",
                    help="ground truth annotations.json (track_id per person)")
    ap.add_argument("poses", type=Path, help="poses.jsonl written by `edgepose analyze`")
    ap.add_argument("--min-oks", type=float, default=0.5, help="OKS for a match (default 0.5)")
    ap.add_argument("--summary", action="store_true", help="no ground truth: ids, ids over 1 s, duplicates")
    a = ap.parse_args(argv)
    if a.summary:
        print(json.dumps(id_summary(a.poses)))
        return 0
    if a.annotations is None:
        ap.error("annotations.json is needed (or --summary)")
    gt = load_gt(a.annotations)
    pred = load_predictions(a.poses, len(gt))
    print(json.dumps(asdict(evaluate(gt, pred, a.min_oks))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
