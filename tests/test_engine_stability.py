"""Stable decisions: imperceptible noise must not change who is found, nor move keypoints far.

Each image gets ±1 grey level of seeded random noise (what re-encoding or another machine's float
rounding amounts to). The issue's target: no change in who is found, and no keypoint with
visibility >= 0.5 moving more than 2 % of that person's height. What holds, and is asserted:

* the same image twice gives identical poses;
* every person the engine is sure of (score >= 0.6) is found again (OKS >= 0.85 with a pose of the
  noisy image), and the median of their visible body keypoints moves by at most 2 % of their
  height (four images with crowds, occlusion and reflections).

What is NOT reached, and why (measured here, docs/benchmarks.md "Noise stability"): the landmark
network itself. Shown the *very same crop* (the engine's own final ROI) of the noisy image, it
moves at least one visible keypoint by more than 2 % of the person's height for 24 of the 67
people found (every joint group: face 6 %, shoulders to wrists 7 %, hands 10 %, hips to ankles
9 %, feet 15 % of their visible points; worst 10 % of the height, at visibility 0.95 too), and a
ROI moved by under a pixel moves about 30 % of all visible keypoints by more than 2 %. Every ROI
the engine uses comes from model outputs the noise moves, so no choice of ROI, tile, NMS or
ranking rule can hold the per-keypoint bound (averaging each reported pose over 5 views of its
final ROI -- mirrored and shifted crops, ``EngineConfig.final_views`` -- cuts the keypoints beyond
2 % from 29 % to 25 %, no more); snapping ROIs to a grid (same crop for both images
most of the time) cut the keypoints over 2 % from 29 % to 7 % but cost 1.5-2 points of PCK@0.2
(0.904 -> 0.886), below the issue's 0.90, so it was not taken.
:func:`test_the_real_target_on_every_still` measures the full target on every shared still and
asserts it gets no worse than measured; :func:`test_the_same_crop_moves_keypoints_too` pins the
cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from edgepose.inference import topdown
from tests.conftest import need_data

IMAGES = (
    ("keypoints", "coco", "000000197388.jpg"),                  # five overlapping skiers
    ("keypoints", "aic", "ff945ae2e729f24eea992814639d59b3bdec8bd8.jpg"),  # footballers, background people
    ("keypoints", "ochuman", "000817.jpg"),                     # heavy occlusion
    ("tracking", "bonn_060470979", "frames"),                   # four women, reflections in water
)


def _image(parts: tuple[str, ...]) -> np.ndarray:
    p = need_data(*parts)
    if p.is_dir():
        p = sorted(p.iterdir())[12]
    img = cv2.imread(str(p))
    assert img is not None, p
    return img


def _noisy(img: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.int16) + rng.integers(-1, 2, img.shape), 0, 255).astype(np.uint8)


def _height(kp: np.ndarray) -> float:
    vis = kp[kp[:, 2] >= 0.5]
    vis = vis if len(vis) >= 4 else kp
    return float(vis[:, 1].max() - vis[:, 1].min())


SURE = 0.6


def test_the_same_image_twice_gives_identical_poses(still_engine):
    img = _image(IMAGES[0])
    a, b = still_engine.detect_image(img), still_engine.detect_image(img.copy())
    assert len(a) == len(b) and all(np.array_equal(p.keypoints, q.keypoints) for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("parts", IMAGES, ids=lambda p: p[1])
def test_one_grey_level_of_noise_keeps_the_people_the_engine_is_sure_of(still_engine, still_poses, parts):
    img = _image(parts)
    # the clean image's poses: the session memo's (the same engine on the same pixels gives the
    # same poses, test_the_same_image_twice_gives_identical_poses), so a still is not run again
    ref = [p for p in still_poses.detect_image(img) if p.score >= SURE]
    assert ref, "the reference image must show people"
    body = slice(11, 29)
    for seed in (1, 2):
        got = still_engine.detect_image(_noisy(img, seed))
        for p in ref:
            sims = [topdown.oks(p.keypoints, q.keypoints) for q in got]
            assert sims and max(sims) >= 0.85, f"seed {seed}: a person of score {p.score:.2f} was not found again"
            q = got[int(np.argmax(sims))]
            seen = (p.keypoints[body, 2] >= 0.5) & (q.keypoints[body, 2] >= 0.5)
            moved = np.linalg.norm(p.keypoints[body, :2] - q.keypoints[body, :2], axis=1)[seen]
            h = _height(p.keypoints)
            assert moved.size and float(np.median(moved)) <= 0.02 * h, (
                f"seed {seed}: a person {h:.0f} px tall moved {np.median(moved):.1f} px (median, > 2 %)")


def _stills() -> list:
    root = need_data("keypoints")
    return sorted(root.rglob("*.jpg")) + [sorted(need_data(*IMAGES[3]).iterdir())[12]]


def _moves(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """How far each keypoint either pose calls visible (>= 0.5) moved, in shares of p's height."""
    seen = (p[:, 2] >= 0.5) | (q[:, 2] >= 0.5)
    return np.linalg.norm(p[:, :2] - q[:, :2], axis=1)[seen] / max(_height(p), 1.0)


@dataclass
class NoisyComparison:
    """The clean image's poses against the noisy image's: ``lost`` (indices of clean poses no
    noisy pose matches with OKS >= 0.5), ``new`` (indices of noisy poses matched to none) and, for
    each clean pose found again, its visible keypoints' moves (:func:`_moves`)."""

    lost: list[int]
    new: list[int]
    moves: list[np.ndarray]


def compare_noisy(ref: list, got: list) -> NoisyComparison:
    """Match each clean pose to its most similar noisy pose (the definitions of the target)."""
    used: set[int] = set()
    lost, moves = [], []
    for i, p in enumerate(ref):
        sims = [topdown.oks(p.keypoints, q.keypoints) for q in got]
        j = int(np.argmax(sims)) if sims else -1
        if j < 0 or sims[j] < 0.5:
            lost.append(i)
            continue
        used.add(j)
        moves.append(_moves(p.keypoints, got[j].keypoints))
    return NoisyComparison(lost, [j for j in range(len(got)) if j not in used], moves)


def test_the_real_target_on_every_still(still_engine, still_poses):
    """The issue's full target over every still under keypoints/ and a Bonn frame, noise seed 1:
    every person found again (the same body: OKS >= 0.5), no other person appearing, every
    keypoint with visibility >= 0.5 within 2 % of the person's height.

    NOT reached (see the module docstring: the landmark network moves keypoints on the same crop).
    Measured 2026-12-02 (x86, lean float landmark model, deterministic run to run): 67 people
    found; 9 not found again, 12 new; of the 58 found again, 46 have a keypoint beyond 2 %; 29.3 %
    of their visible keypoints are (median move 0.80 % of the height). With each reported pose
    averaged over 5 views of its final ROI (``EngineConfig.final_views``, the default): 41 of
    58 with a keypoint beyond 2 %, 25.4 % of the keypoints, median move 0.48 %; who is found is
    unchanged (9 / 12). With a pose laid across two standing people dropped
    (``topdown.torso_spans_two_people``): 8 lost, 11 new, 41 of 59, 24.9 %, median 0.45 %.
    With the views taken a second round around the re-aligned ROI (``EngineConfig.final_rounds``
    2, session 10): 8 lost, 11 new, 37 of 59, 23.7 %, median 0.45 %. With one pose per person
    (``onebody.one_per_body``: no two poses share a face or one person box's body, session 11):
    63 people found, 7 lost, 10 new, 34 of 56, 22.8 %, median 0.43 %. With a small pose lying on
    another's limbs taken for a piece of them (``onebody.piece_of``, session 12): 60 people found
    (3 such pieces gone), 7 lost, 8 new, 31 of 53, 20.8 %, median 0.39 %. With a person box
    vouching only for a torso it holds (``topdown.torso_boxed``): 59 people, 7 lost, 8 new,
    30 of 52, 20.6 %, median 0.38 %; and not for a second pose when it is a surer pose's own box
    (``topdown.in_anothers_box``): 58 people, 7 lost, 7 new, 29 of 51, 19.8 %, median 0.36 %.
    With people half hidden behind others found on the painted image (``EngineConfig.behind``,
    session 13): 61 people, 7 lost, 7 new, 32 of 54, 20.2 %, median 0.40 %. Three people more are
    found: two background people on the AIC photo (their keypoints move 2.7 and 11 %: blurred,
    half hidden, joints guessed) and a skier behind another on COCO 197388, who is not found again
    under noise; a PoseTrack spectator lost under noise before is found again now (a 22 % move).
    So "bad" counts 3 more, "lost" is unchanged, and every other person moves as before. With a
    looser box of a surer person vouching for no second pose (``topdown.LOOSE_BOX_IOU``: the
    figure on OCHuman 000817's glass pillar gone): 60 people, 6 lost, 5 new, 32 of 54, 20.2 %,
    median 0.40 %. With a ghost inside another pose's own box held to the video's one-body rules
    (``onebody._held_ghost``) and a surer box pose that fits its box replacing the face-keyed pose
    (``topdown.fits_its_box_better``, session 14; the ``infer`` poses are byte-identical): 60
    people, 7 lost, 6 new, 31 of 53, 18.8 %, median 0.38 %. The one more lost and new are the
    acrobats' chaotic third pose on HumanArt 590 under noise; on the 49 yoga photos, which this
    test does not read, the same change took lost / new from 4 / 3 to 0 / 1 (docs/benchmarks.md).
    With one more round after the views, on the lattice ROIs around the re-aligned ROI, blended
    with barycentric weights (``EngineConfig.final_lattice``, session 16: a sub-pixel ROI move keeps
    the same crops): 59 people, 6 lost, 6 new, 27 of 53, 14.9 %, median 0.19 %.
    Asserted: no worse than that (lost and new at their bounds; elsewhere one person / about a
    point of slack for another machine's float rounding), so a change that makes it worse fails,
    and so does the engine with the shifted views (18.8 %); the figures are printed against the target.
    """
    people = lost = new = bad_people = 0
    moved: list[np.ndarray] = []
    for path in _stills():
        img = cv2.imread(str(path))
        ref = still_poses.detect_image(img)  # the clean still: memoised, as above
        got = still_engine.detect_image(_noisy(img, 1))
        c = compare_noisy(ref, got)
        people += len(ref)
        lost += len(c.lost)
        new += len(c.new)
        moved += c.moves
        bad_people += sum(bool((m > 0.02).any()) for m in c.moves)
    allm = np.concatenate(moved)
    share = float((allm > 0.02).mean())
    print(f"people {people}, not found again {lost}, new {new}; found again with a keypoint beyond 2 %: "
          f"{bad_people} of {people - lost}; visible keypoints beyond 2 %: {share:.3f}, median move "
          f"{100 * float(np.median(allm)):.2f} % (target: 0, 0, 0, 0)")
    assert people >= 59                 # fewer is people behind others missed again, or duplicates gone
    assert lost <= 6 and new <= 6
    assert bad_people <= 28
    assert share <= 0.155
    assert float(np.median(allm)) <= 0.0022


def test_the_same_crop_moves_keypoints_too(still_engine):
    """The cause of what the test above does not reach: the landmark network on the same ROI of
    the clean and the noisy photos. For the people the engine is sure of (score >= 0.6) the pose
    flag and the body's median keypoint barely move (asserted: flag within 0.05, median body
    keypoint within 1 % of the height), yet single keypoints of some people move by more than 2 %,
    and doubtful people move as a whole -- no pipeline decision is involved.
    """
    lm = still_engine.landmarks
    worst = []
    for parts in IMAGES:
        img = _image(parts)
        noisy = _noisy(img, 1)
        for p, roi in _final_rois(still_engine, img):
            a, b = lm.run(img, roi), lm.run(noisy, roi)
            h = max(_height(a.keypoints), 1.0)
            body = float(np.median(np.linalg.norm(a.keypoints[11:29, :2] - b.keypoints[11:29, :2], axis=1))) / h
            worst.append((round(p.score, 2), round(float(_moves(a.keypoints, b.keypoints).max()), 3), round(body, 3)))
            if p.score >= SURE:
                assert abs(a.score - b.score) <= 0.05 and body <= 0.01, (parts, p.score, a.score, b.score, body)
    print("score, worst keypoint and median body keypoint move on the same crop (share of height):", worst)
    assert sum(s >= SURE for s, _, _ in worst) >= 8
    assert max(w for _, w, _ in worst) > 0.02, "the network is now stable on a fixed crop: tighten the tests above"


def _final_rois(engine, img: np.ndarray) -> list:
    """Each reported pose with the ROI of the landmark pass it came from."""
    seen: list = []
    real = engine.landmarks.run

    def spy(image, roi):
        r = real(image, roi)
        seen.append(r)
        return r

    engine.landmarks.run = spy
    try:
        poses = engine.detect_image(img)
    finally:
        engine.landmarks.run = real
    # the pose's visibilities are its final pass's (the averaged views move only x, y)
    return [(p, next(r.roi for r in seen if np.array_equal(r.keypoints[:, 2], p.keypoints[:, 2]))) for p in poses]


def test_the_mirrored_crop_describes_the_same_person(still_engine):
    """``LandmarkModel.mirrored`` maps the flipped crop's landmarks back: for the people the engine
    is sure of, its body keypoints lie on the direct run's (median within 4 % of the ROI side;
    measured up to 2.5 %) with left and right the same way round: left and right swapped, the
    same comparison is over twice as far (a missing swap puts each left joint on the right one,
    a missing un-flip mirrors the whole body about the ROI's centre)."""
    from edgepose.skeleton import BLAZE_MIRROR

    lm = still_engine.landmarks
    right, swapped = [], []
    for parts in IMAGES[:2]:
        img = _image(parts)
        for p, roi in _final_rois(still_engine, img):
            if p.score < SURE:
                continue
            a, b = lm.run(img, roi), lm.mirrored(img, roi)
            d = np.linalg.norm(a.keypoints[11:29, :2] - b.keypoints[11:29, :2], axis=1)
            assert float(np.median(d)) <= 0.04 * roi.size, (parts, float(np.median(d)), roi.size)
            right.append(float(np.median(d)) / roi.size)
            bs = b.keypoints[list(BLAZE_MIRROR)]
            swapped.append(float(np.median(np.linalg.norm(a.keypoints[11:29, :2] - bs[11:29, :2], axis=1))) / roi.size)
    print("median body keypoint distance, direct vs mirrored, share of the ROI side:", np.round(right, 3),
          "left/right swapped:", np.round(swapped, 3))
    assert len(right) >= 4
    assert np.mean(swapped) > 2 * np.mean(right)
