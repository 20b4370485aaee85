"""The One Euro keypoint filter: less jitter at rest, little lag in motion, the same at any size."""

from __future__ import annotations

import numpy as np

from edgepose.inference.filters import OneEuroFilter

FPS = 30.0


def _run(f: OneEuroFilter, xs: np.ndarray, scale: float) -> np.ndarray:
    return np.array([f(x, i / FPS, scale) for i, x in enumerate(xs)])


def test_jitter_of_a_still_joint_is_cut():
    rng = np.random.default_rng(1)
    still = 300 + rng.normal(0, 2.0, (90, 1))           # a joint at rest, 2 px of detector noise
    out = _run(OneEuroFilter(), still, scale=200)
    raw_jitter = np.abs(np.diff(still[30:], axis=0)).mean()
    assert np.abs(np.diff(out[30:], axis=0)).mean() < 0.5 * raw_jitter
    assert abs(out[30:].mean() - 300) < 1.0


def test_a_fast_movement_is_followed_without_lag():
    """An arm sweeping 1.5 body sizes per second: the filter stays within 3 % of the body's size."""
    t = np.arange(60) / FPS
    moving = (100 + 300 * t)[:, None]                 # 300 px/s with a 200 px body
    out = _run(OneEuroFilter(), moving, scale=200)
    assert np.abs(out[5:] - moving[5:]).max() < 0.03 * 200


def test_a_new_track_is_not_dragged_at_its_start():
    moving = (100 + 10 * np.arange(10))[:, None].astype(float)   # already moving when first seen
    out = _run(OneEuroFilter(), moving, scale=150)
    assert out[0, 0] == 100
    assert abs(out[1, 0] - moving[1, 0]) < 2.0      # measured 0.6 px; the filter before 2026-11-24 lagged 5.3


def test_same_behaviour_at_any_size():
    """A person twice as large (positions and scale doubled) gets exactly doubled output."""
    rng = np.random.default_rng(2)
    xs = np.cumsum(rng.normal(0, 3, (50, 4, 2)), axis=0) + 200
    a = _run(OneEuroFilter(), xs, scale=120)
    b = _run(OneEuroFilter(), 2 * xs, scale=240)
    assert np.allclose(b, 2 * a)


def test_walking_towards_the_camera_is_not_speed():
    """Only the scale grows (the person comes closer, a joint stays put): the joint is not moved."""
    f = OneEuroFilter()
    outs = [f(np.array([320.0, 240.0]), i / FPS, scale=100 + 5 * i) for i in range(30)]
    assert np.allclose(outs[-1], [320, 240])


def test_time_going_back_restarts():
    f = OneEuroFilter()
    f(np.array([0.0]), 1.0)
    f(np.array([5.0]), 1.1)
    assert f(np.array([50.0]), 0.5)[0] == 50.0       # a new video: no smoothing across it
