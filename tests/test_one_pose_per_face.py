"""One pose per person on a still: two estimates that share a face, or that one person box holds
as one body, are one person, and the one that fits the box is kept (issue 13, "one pose per body").

Found on photos outside the shared set (Debian's opencv-doc samples, looked at by eye): the
face-keyed detector fires on a face at two tiles or scales, the two ROIs give two hypotheses,
and both were reported -- the man with the ball in ``basketball1.png`` had a second pose with his
face and an arm thrown out of the picture, Messi in ``messi5.jpg`` two more (one with his face and
an arm, one with its torso collapsed onto his inside the one box the person detector gives him).
On the shared stills the same rule keeps every annotated person (``check_contracts.py infer``
unchanged at PCK all 0.9042, recall 0.9248; AP 0.5529 -> 0.5541), and on the AIC Go board it
keeps the right man's pose whose body is on him, not the one whose body lies on the board.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.inference import onebody, topdown
from edgepose.inference.person_detector import PersonBox
from tests.conftest import DATA, need_data, needs_pose_models

SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
pytestmark = needs_pose_models(__name__, SAMPLES / "basketball1.png", SAMPLES / "messi5.jpg")


def _standing(cx: float, top: float, height: float, face_dx: float = 0.0) -> np.ndarray:
    """A plain upright 33-keypoint body; ``face_dx`` moves the face alone."""
    kp = np.zeros((33, 3), np.float32)
    kp[:, 2] = 0.95
    h = height
    face = [(0, 0, 0.06)] + [(s * dx, 0, 0.045) for s in (-1, 1) for dx in (0.015, 0.025, 0.035)] + \
        [(-0.05, 0, 0.05), (0.05, 0, 0.05), (-0.015, 0, 0.075), (0.015, 0, 0.075)]
    for i, (dx, _, dy) in enumerate(face):   # nose, eyes (inner, centre, outer), ears, mouth
        kp[i, :2] = (cx + face_dx + dx * h, top + dy * h)
    body = {11: (-0.12, 0.2), 12: (0.12, 0.2), 13: (-0.15, 0.35), 14: (0.15, 0.35), 15: (-0.15, 0.48),
            16: (0.15, 0.48), 23: (-0.08, 0.52), 24: (0.08, 0.52), 25: (-0.08, 0.74), 26: (0.08, 0.74),
            27: (-0.08, 0.95), 28: (0.08, 0.95), 29: (-0.09, 0.97), 30: (0.09, 0.97), 31: (-0.05, 1.0),
            32: (0.05, 1.0)}
    for i in (17, 19, 21):
        body[i] = (-0.16, 0.5)
    for i in (18, 20, 22):
        body[i] = (0.16, 0.5)
    for i, (dx, dy) in body.items():
        kp[i, :2] = (cx + dx * h, top + dy * h)
    return kp


def _arm_thrown(kp: np.ndarray, dx: float) -> np.ndarray:
    """The same face, the body moved sideways: a second hypothesis from one face."""
    out = kp.copy()
    out[11:, 0] += dx
    return out


def test_two_poses_with_one_face_are_one_person():
    a = _standing(300, 100, 400)
    assert onebody.same_head(a, _arm_thrown(a, 150))
    assert onebody.one_body(a, _arm_thrown(a, 150))
    # a neighbour whose face is one face-width away is someone else
    face_w = onebody.face_size(a)
    assert not onebody.same_head(a, _standing(300, 100, 400, face_dx=1.2 * face_w))
    # a face the model does not see is no evidence
    hidden = _arm_thrown(a, 150)
    hidden[:11, 2] = 0.2
    assert not onebody.same_head(a, hidden)
    # nor is a face at another scale (someone far behind, in line with the camera)
    assert not onebody.same_head(a, _standing(300, 100 + 0.01 * 400, 120))


def test_the_pose_that_fits_the_box_is_kept_of_two_with_one_face():
    right = _standing(300, 100, 400)
    thrown = _arm_thrown(right, 180)        # ranked first, but its body is off the person's box
    box = PersonBox(230, 80, 370, 510, 0.7)
    assert onebody.one_per_body([thrown, right], [box]) == [1]
    assert onebody.one_per_body([thrown, right]) == [0]   # no boxes: the rank decides


def test_two_poses_each_in_a_box_of_their_own_are_two_people():
    """A person half behind another: the video's one-body rules would join them, the boxes say two."""
    front = _standing(300, 100, 400)
    behind = _standing(330, 90, 400)        # hips within a few pixels: one body to the video test
    assert onebody.one_body(front, behind)
    boxes = [PersonBox(225, 80, 375, 510, 0.7), PersonBox(262, 70, 400, 500, 0.6)]
    assert onebody.box_match(front, boxes).own != onebody.box_match(behind, boxes).own
    assert onebody.one_per_body([front, behind], boxes) == [0, 1]
    one_box = [PersonBox(225, 75, 400, 510, 0.7)]           # one box holds both: one body
    assert onebody.one_per_body([front, behind], one_box) == [0]


@pytest.mark.parametrize("name", ["basketball1.png", "messi5.jpg"])
def test_no_two_poses_share_a_face_or_one_body_on_real_photos(still_poses, name):
    img = cv2.imread(str(SAMPLES / name))
    assert img is not None, f"{SAMPLES / name} missing: apt-get install opencv-doc (tools/quickstart.sh does)"
    poses = still_poses.detect_image(img)
    assert poses, name
    main = max(poses, key=lambda p: p.score)
    assert main.score >= 0.9, name
    on_main = [p for p in poses if p is not main and
               (onebody.same_head(p.keypoints, main.keypoints) or topdown.extent_iou(p.keypoints, main.keypoints) >= 0.3)]
    assert not on_main, [(round(p.score, 2), topdown.extent_iou(p.keypoints, main.keypoints)) for p in on_main]


def test_the_second_man_in_the_basketball_photo_is_kept(still_poses):
    poses = still_poses.detect_image(cv2.imread(str(SAMPLES / "basketball1.png")))
    hips_x = sorted(float(p.keypoints[[23, 24], 0].mean()) for p in poses)
    assert len(poses) == 2 and hips_x[0] < 200 < 400 < hips_x[1], hips_x


def test_the_go_players_pose_on_his_own_body_is_the_one_kept(still_poses):
    """AIC: two hypotheses share the right man's face; the one kept is his (matched to his
    annotation), not the one whose torso lies on the board."""
    path = need_data("keypoints", "aic", "fa436c914fe4a8ec1ec5474af4d3820b84d17561.jpg")
    gt = json.loads((DATA / "keypoints" / "aic" / "aic_keypoints.json").read_text())
    im = next(i for i in gt["images"] if i["file_name"].endswith(path.name))
    anns = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
    right = max(anns, key=lambda a: a["bbox"][0] + a["bbox"][2] / 2)
    g = np.asarray(right["keypoints"], float).reshape(14, 3)
    torso = [i for i in (0, 3, 6, 9) if g[i, 2] > 0]   # AIC: right/left shoulder 0/3, right/left hip 6/9
    assert len(torso) >= 2
    torso_gt = g[torso, :2].mean(0)
    poses = still_poses.detect_image(cv2.imread(str(path)))
    x0, y0, w, h = right["bbox"]
    near = [p for p in poses if onebody.face_size(p.keypoints) > 0 and
            x0 <= p.keypoints[0, 0] <= x0 + w and y0 <= p.keypoints[0, 1] <= y0 + h]
    assert len(near) == 1, [(round(p.score, 2), p.keypoints[0, :2]) for p in near]
    blaze = {0: 12, 3: 11, 6: 24, 9: 23}
    torso = near[0].keypoints[[blaze[i] for i in torso], :2].mean(0)
    assert np.linalg.norm(torso - torso_gt) <= 0.15 * max(w, h), (torso, torso_gt)
