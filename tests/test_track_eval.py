"""tools/track_eval.py: MOTA and IDF1 as defined, on tracks with known errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from track_eval import Person, evaluate  # noqa: E402


def _body(x: float) -> np.ndarray:
    rng = np.random.default_rng(int(x))
    return np.column_stack([x + rng.uniform(0, 60, 17), rng.uniform(0, 160, 17)])


def _frames(n: int, ids_of=lambda f, person: person, drop=lambda f, person: False):
    gt, pred = [], []
    for f in range(n):
        g, p = [], []
        for person, x in enumerate((100.0, 400.0)):
            k = _body(x) + f
            g.append(Person(person, k, np.ones(17)))
            if not drop(f, person):
                p.append(Person(ids_of(f, person), k + 0.5, np.ones(17)))
        gt.append(g)
        pred.append(p)
    return gt, pred


def test_perfect_tracks_score_one():
    s = evaluate(*_frames(20))
    assert (s.mota, s.idf1, s.idsw, s.fn, s.fp, s.recall) == (1.0, 1.0, 0, 0, 0, 1.0)
    assert s.gt_tracks == 2 and s.predicted_ids == 2


def test_an_id_swap_halfway_costs_two_switches_and_half_the_identity():
    s = evaluate(*_frames(20, ids_of=lambda f, person: person if f < 10 else 1 - person))
    assert s.idsw == 2 and s.mota == pytest.approx(1 - 2 / 40)
    assert s.idf1 == pytest.approx(0.5)  # each true track keeps its id for half of its frames


def test_a_fragmented_track_and_missed_frames():
    s = evaluate(*_frames(20, ids_of=lambda f, person: person if f < 15 or person else 7,
                          drop=lambda f, person: person == 1 and f < 5))
    assert s.fn == 5 and s.idsw == 1 and s.predicted_ids == 3
    assert s.mota == pytest.approx(1 - (5 + 1) / 40)
    assert s.idf1 == pytest.approx(2 * (15 + 15) / (40 + 35))


def test_an_extra_pose_is_a_false_positive_only_where_it_is_on_nobody_labelled():
    gt, pred = _frames(10)
    for p in pred:
        p.append(Person(9, _body(900.0), np.ones(17)))  # someone unlabelled
    s = evaluate(gt, pred)
    assert s.fp == 10 and s.mota == pytest.approx(1 - 10 / 20) and s.mota_no_fp == 1.0
    assert s.idf1_labelled == 1.0 and s.idf1 < 1.0
