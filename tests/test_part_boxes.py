"""A person box on someone's legs is a part of their box, and the pose the landmark model fits in it
is no second person.

CenterNet often gives a second, weaker box on a standing person's lower body (the legs of a man
walking toward the camera, a lifter's squatting legs, each leg of a goddess squat, half a
wheelchair user): 18 such boxes on 135 shared stills and exercise frames. Box NMS keeps them (their
IoU with the whole person is small) and the pose fitted in one "owns" it, so the one-pose-per-body
rules counted two people: on frame 104 of the shared ``walking_toward_camera.mp4``, with +-1 grey
level of noise, an upside-down skeleton at score 0.80 lay along the walking man's legs.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgepose.inference import onebody, topdown
from edgepose.inference.person_detector import PersonBox, part_of, whole_people
from tests.conftest import DATA, need_data, needs_pose_models
from tests.test_engine_stability import _noisy
from tests.test_one_pose_per_face import _standing

VIDEO = DATA / "video" / "walking_toward_camera.mp4"
MAN = PersonBox(594, 8, 803, 591, 0.76)        # the walking man's box on frame 100 (measured)
LEGS = PersonBox(610, 295, 715, 586, 0.53)     # and CenterNet's second box on his legs


def test_a_box_on_someones_legs_is_a_part_of_theirs():
    assert part_of(LEGS, MAN)
    assert not part_of(MAN, LEGS)
    assert whole_people([MAN, LEGS]) == [MAN]
    assert whole_people([LEGS, MAN]) == [MAN]


def test_people_are_not_parts():
    # someone behind: the box reaches higher and its bottom is higher in the picture
    assert not part_of(PersonBox(650, 0, 760, 420, 0.5), MAN)
    # one of two people a wide box holds together: as tall as the wide box
    pair = PersonBox(100, 50, 400, 600, 0.8)
    assert not part_of(PersonBox(110, 60, 240, 598, 0.7), pair)
    # a child held in the arms: inside the box, but nowhere near its bottom
    assert not part_of(PersonBox(640, 150, 760, 330, 0.6), MAN)
    # a surer box is not a part of a less sure one
    assert not part_of(PersonBox(610, 295, 715, 586, 0.9), MAN)


def _upside_down_on_legs(man: np.ndarray) -> np.ndarray:
    """A whole body at about half the man's size, head at his feet and feet at his hips."""
    hip_y, foot_y = float(man[[23, 24], 1].mean()), float(man[[27, 28], 1].mean())
    cx = float(man[[23, 24, 27, 28], 0].mean())
    kp = _standing(cx, 0.0, foot_y - hip_y)
    kp[:, 1] = foot_y - kp[:, 1]                 # flipped: the head at the bottom
    return kp


def test_a_pose_in_a_legs_box_is_a_ghost_of_the_man():
    man = _standing(700, 10, 575)
    ghost = _upside_down_on_legs(man)
    e = topdown.pose_extent(ghost, 0.5)
    legs = PersonBox(e[0] - 5, e[1] - 5, e[2] + 5, float(man[:, 1].max()) + 3, 0.5)
    box = PersonBox(620, 5, 780, float(man[:, 1].max()) + 6, 0.8)
    assert onebody.box_match(ghost, [legs]).own == 0          # the legs box would be its own
    assert part_of(legs, box)
    assert onebody.one_per_body([man, ghost], [box, legs]) == [0]
    # without the man's box the legs box is whole, and its pose someone of its own
    assert onebody.one_per_body([man, ghost], [legs]) == [0, 1]


pytestmark = needs_pose_models(__name__, VIDEO)


def _frame(i: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(need_data("video", VIDEO.name)))
    cap.set(cv2.CAP_PROP_POS_FRAMES, i)
    ok, img = cap.read()
    cap.release()
    assert ok, f"frame {i} of {VIDEO}"
    return img


def _on_the_man(poses: list, man: PersonBox) -> list:
    out = []
    for p in poses:
        t = p.keypoints[[11, 12, 23, 24], :2].mean(0)
        if man.x0 <= t[0] <= man.x1 and man.y0 <= t[1] <= man.y1:
            out.append(round(p.score, 2))
    return out


def test_one_pose_on_the_walking_man_under_noise(still_poses):
    img = _noisy(_frame(104), 1)
    poses = still_poses.detect_image(img)
    big = max(poses, key=lambda p: onebody.pose_scale(p.keypoints))
    e = topdown.pose_extent(big.keypoints, 0.5)
    assert e[3] - e[1] > 450                                    # the man, head to feet
    assert _on_the_man(poses, PersonBox(e[0], e[1], e[2], e[3], 1.0)) == [round(big.score, 2)]
    assert len(poses) >= 4                                      # the people on the steps and bench stay
