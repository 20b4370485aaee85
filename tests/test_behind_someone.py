"""Stills: a person half hidden behind someone already found is found too (issue 13: "a woman who
comes out from behind another ... is never found").

In the Bonn paddle-board frames 20-25 the woman in green stands behind the one in pink: her face,
shoulders and a hand are visible. The face-keyed detector sees her face, but the landmark model on
that ROI describes the pink woman, and the person detector gives the two of them one box, so the
engine used to miss her on all six frames. With the people already found painted out
(:mod:`edgepose.inference.behind`) the person detector boxes her and the landmark model finds her.
Measured in docs/benchmarks.md ("People behind someone"): infer recall 0.9248 -> 0.9624,
PCK@0.2 all 0.9042 -> 0.9271.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgepose.inference import behind, topdown
from edgepose.inference.person_detector import PersonBox
from tests.conftest import need_data, needs_pose_models
from tests.test_one_pose_per_face import _standing

pytestmark = needs_pose_models(__name__)

BONN = ("tracking", "bonn_060470979")
BEHIND_FRAMES = ("00020.jpg", "00021.jpg", "00022.jpg", "00023.jpg", "00024.jpg", "00025.jpg")
GREEN = 1  # her track id in the annotations


def _woman_behind(shared_tools, frame: str) -> tuple[np.ndarray, float]:
    """Her annotated COCO-17 keypoints and height (head top to the lowest labelled point)."""
    _, coco_eval = shared_tools
    import json

    gt = coco_eval.normalise_gt(json.load(open(need_data(*BONN, "annotations.json"))))[0]
    image = next(im for im in gt["images"] if im["file_name"].endswith(frame))
    ann = next(a for a in gt["annotations"] if a["image_id"] == image["id"] and a.get("track_id") == GREEN)
    kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
    ys = kp[kp[:, 2] > 0, 1]
    return kp, float(ys.max() - ys.min())


def _on_her(pose_kp17: np.ndarray, ann: np.ndarray, height: float) -> bool:
    """The pose is hers: the points she shows (labelled visible) lie within 15 % of her height of
    hers, in the median (measured 10-11 %; the front woman's pose is at 35 % and more)."""
    seen = ann[:, 2] == 2
    d = np.linalg.norm(pose_kp17[seen, :2] - ann[seen, :2], axis=1)
    return float(np.median(d)) < 0.15 * height


def test_the_woman_behind_the_paddle_boarder_is_found_on_every_frame(still_poses, shared_tools):
    for frame in BEHIND_FRAMES:
        img = cv2.imread(str(need_data(*BONN, "frames", frame)))
        poses = still_poses.detect_image(img)
        ann, height = _woman_behind(shared_tools, frame)
        assert any(_on_her(p.coco17(), ann, height) for p in poses), frame
        assert len(poses) == 4, (frame, [round(p.score, 2) for p in poses])   # the four women, once each


def test_without_the_painted_search_she_is_missed(shared_tools):
    """The search is what finds her: the engine without it misses her on this frame."""
    from edgepose.inference.engine import EngineConfig, PoseEngine

    frame = "00022.jpg"
    img = cv2.imread(str(need_data(*BONN, "frames", frame)))
    ann, height = _woman_behind(shared_tools, frame)
    with PoseEngine(EngineConfig(max_people=20, behind=False, final_views=1)) as engine:
        poses = engine.detect_image(img)
    assert not any(_on_her(p.coco17(), ann, height) for p in poses)
    assert len(poses) == 3


def test_the_paint_covers_a_found_body_and_nothing_far_from_it():
    kp = _standing(300, 100, 400)
    mask = behind.paint_mask((600, 800, 3), [kp])
    torso = kp[[11, 12, 23, 24], :2].mean(0).astype(int)
    assert mask[torso[1], torso[0]] and mask[int(kp[0, 1]), int(kp[0, 0])]
    assert not mask[100, 700] and not mask[550, 20]
    assert not behind.head_unpainted(kp, mask)
    far = _standing(650, 60, 300)
    assert behind.head_unpainted(far, mask)
    img = np.full((600, 800, 3), 30, np.uint8)
    painted = behind.paint_out(img, mask)
    assert (painted[mask > 0] == behind.GREY).all() and (painted[mask == 0] == 30).all()
    assert img.max() == 30                                     # the image itself is untouched


def test_a_painted_persons_own_box_is_taken_and_a_box_from_a_head_above_theirs_is_not():
    front = _standing(300, 150, 400)                           # nose at y ~ 150
    own = PersonBox(*topdown.pose_extent(front, 0.5), 0.8)
    assert behind.box_taken(own, [front])
    taller = PersonBox(own.x0 - 10, 40, own.x1 + 10, 320, 0.5)  # from a head above hers down to her chest
    assert not behind.box_taken(taller, [front])
    behind_her = _standing(320, 50, 400)                       # nose at y ~ 50, higher in that box
    assert behind.box_has_head(behind_her, taller, [front])
    assert not behind.box_has_head(front, taller, [behind_her])
    assert not behind.box_has_head(behind_her, own, [front])   # not in the box's top at all


@pytest.mark.parametrize("frame", ["00001.jpg", "00010.jpg", "00016.jpg"])
def test_where_nobody_is_hidden_no_fifth_pose(still_poses, frame):
    """Frames with all four women in view gain nobody. On 10 and 16 a first version of the search
    put a pose on the painted red woman's paddle and on the bag (no box had their heads)."""
    img = cv2.imread(str(need_data(*BONN, "frames", frame)))
    assert len(still_poses.detect_image(img)) == 4


def _result(kp: np.ndarray, flag: float = 0.99):
    from edgepose.inference.blazepose import LandmarkResult
    from edgepose.inference.roi import Roi

    z = np.zeros(33, np.float32)
    return LandmarkResult(keypoints=kp.astype(np.float32), z=z, presence=z + 1,
                          aux=np.array([[300, 250], [300, 100]], np.float32), score=flag, roi=Roi(300, 250, 400, 0))


def _search(guess: np.ndarray) -> list:
    """:func:`behind.find_behind` around one standing person, every landmark pass returning ``guess``."""
    front = _standing(300, 120, 380)
    img = np.full((600, 600, 3), 90, np.uint8)
    box = PersonBox(220, 40, 380, 520, 0.6)                  # a box reaching above the front person's head
    found, _ = behind.find_behind(img, [front], [], lambda im: [box], lambda im, roi: _result(guess), 0.5)
    return found


def test_a_head_over_someone_with_a_body_that_is_all_guess_is_dropped():
    front = _standing(300, 120, 380)
    seen = _standing(300, 50, 380)                           # head above the front person's, body beside theirs
    seen[topdown.BODY, 0] += 130
    assert len(_search(seen)) == 1 and _search(seen)[0].shown > 0.5
    hidden = seen.copy()
    hidden[topdown.BODY, :2] = front[topdown.BODY, :2]       # every body joint on the painted person
    assert _search(hidden) == []
