"""One person in a yoga photo is one pose, and the right one (issue 13, "one pose per body").

Found by running the ``infer`` engine (``max_people`` 20) over the shared yoga photos, clean and
with +-1 grey level of noise, and looking at every photo that gave more than one pose or changed
under the noise (``docs/benchmarks.md``, "One pose per yoga photo"):

* a ghost skeleton inside the one person box of a lone warrior II or triangle pose, at pose scores
  of 0.83-0.85, from a tile's face detection: it fits no person box, lies wholly inside the box
  that is the real pose's own, and is either a smaller pose along its limbs or a collapsed one
  on its torso with its head at the real head (``onebody._held_ghost``). It came and went under
  the noise;
* on a large frontal photo of a goddess squat the face-keyed ROI's pose bundled both legs onto the
  torso at flag 1.0 and was kept over the person box's pose, which had every limb right: a box
  pose that is surer and whose extent is its box now replaces it (``topdown.fits_its_box_better``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgepose.inference import onebody
from edgepose.inference.person_detector import PersonBox
from tests.conftest import need_data, needs_pose_models
from tests.test_engine_stability import _noisy
from tests.test_one_pose_per_face import _standing

pytestmark = needs_pose_models(__name__)

GHOSTED = [("warrior2", "Veerabhadrasana_5.jpg"), ("warrior2", "Veerabhadrasana_12.jpg"),
           ("triangle", "triangle4.jpg")]


def _photo(folder: str, name: str) -> np.ndarray:
    img = cv2.imread(str(need_data("yoga", folder) / name))
    assert img is not None, name
    return img


@pytest.mark.parametrize("folder,name", GHOSTED)
def test_a_lone_yoga_pose_is_one_pose_clean_and_noisy(still_poses, still_engine, folder, name):
    img = _photo(folder, name)
    for poses in (still_poses.detect_image(img), still_engine.detect_image(_noisy(img, 1))):
        assert len(poses) == 1, [round(p.score, 2) for p in poses]
        assert poses[0].score >= 0.85


def test_the_goddess_squat_keeps_the_pose_with_the_legs_apart(still_poses):
    poses = still_poses.detect_image(_photo("goddess", "UK_45.jpg"))
    assert len(poses) == 1
    kp = poses[0].keypoints
    # In the wide squat the ankles are far apart (by eye: about 1100 px of the 2000 px width);
    # the face-keyed pose had them 350 px apart, both under the torso.
    assert abs(kp[27, 0] - kp[28, 0]) > 800
    # and the knees out beside the hips, not under them
    hips_w = abs(kp[23, 0] - kp[24, 0])
    assert abs(kp[25, 0] - kp[26, 0]) > 2.5 * hips_w


def _box_of(kp: np.ndarray, pad: float = 0.03) -> PersonBox:
    x0, y0 = kp[:, :2].min(0)
    x1, y1 = kp[:, :2].max(0)
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    return PersonBox(float(x0 - px), float(y0 - py), float(x1 + px), float(y1 + py), 0.9)


def _collapsed(kp: np.ndarray, factor: float, dy: float) -> np.ndarray:
    """``kp`` shrunk about its torso centre by ``factor`` and moved down by ``dy`` px."""
    out = kp.copy()
    c = kp[[11, 12, 23, 24], :2].mean(0)
    out[:, :2] = c + factor * (kp[:, :2] - c)
    out[:, 1] += dy
    return out


def test_a_collapsed_estimate_inside_the_owners_box_is_a_ghost():
    real = _standing(200, 100, 400)
    ghost = _collapsed(real, 0.55, 15)     # torso on the real one's, head by the real head
    box = _box_of(real)
    assert onebody.box_match(real, [box]).own == 0 and onebody.box_match(ghost, [box]).own is None
    assert not onebody.still_duplicate(ghost, real)     # the still-image rules alone keep both
    assert onebody.one_per_body([real, ghost], [box]) == [0]
    assert onebody.one_per_body([real, ghost]) == [0, 1]  # without boxes nothing says one body


def test_two_acrobats_in_one_box_with_heads_apart_stay_two():
    base = _standing(200, 100, 400)
    flyer = _collapsed(base, 0.7, 0)
    # upside down on the base's hands: the same torso centre, the head where the feet would be
    c = flyer[[11, 12, 23, 24], :2].mean(0)
    flyer[:, 1] = 2 * c[1] - flyer[:, 1]
    box = _box_of(np.vstack([base, flyer]))
    assert onebody.box_match(flyer, [box]).own is None
    assert onebody.one_per_body([base, flyer], [box]) == [0, 1]
