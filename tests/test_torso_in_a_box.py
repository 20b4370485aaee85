"""Stills: a person box vouches for a pose only when it holds the pose's torso (issue 13, objects
rejected by body checks).

A face-keyed detection beside someone -- on the bag at a paddle-boarder's feet (the issue's
"backpack tracked as a person"), on the fuel tank by a truck driver's hand -- gives a pose whose
limbs reach into that person's box while its torso lies outside every box. Before, a third of its
body in a box was enough; now such a pose is held to the test of a pose no box vouches for (pose
flag >= 0.95 and body visibility >= 0.8), which none of them passes. On the shared stills no pose
whose torso no box holds is an annotated person (5 such poses, best OKS 0.02); measured in
docs/benchmarks.md ("A box vouches for the torso it holds"): AP 0.5541 -> 0.5553, PCK and recall
unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgepose.inference import topdown
from edgepose.inference.blazepose import LandmarkResult
from edgepose.inference.person_detector import PersonBox
from edgepose.inference.roi import Roi
from tests.conftest import need_data, needs_pose_models
from tests.test_engine_stability import _noisy
from tests.test_one_pose_per_face import _standing

pytestmark = needs_pose_models(__name__)


def _candidate(kp: np.ndarray, flag: float = 0.8) -> topdown.Candidate:
    z = np.zeros(33, np.float32)
    r = LandmarkResult(keypoints=kp, z=z, presence=z + 1, aux=np.zeros((2, 2), np.float32), score=flag, roi=Roi(0, 0, 1, 0))
    return topdown.Candidate(r, "detector")


def test_a_box_its_limbs_reach_into_does_not_vouch_for_a_torso_outside_it():
    person = PersonBox(200, 80, 400, 520, 0.8)
    beside = _standing(470, 200, 300)                   # torso right of the box, an arm reaching into it
    beside[[13, 15, 17, 19, 21, 25, 27, 29, 31], 0] -= 110
    c = _candidate(beside)
    kept = topdown.merge([c], [], [person])
    assert c.support >= topdown.UNBOXED_SUPPORT and not c.torso_boxed
    assert kept == []
    inside = _candidate(_standing(300, 100, 400))
    assert topdown.merge([inside], [], [person]) == [inside]


def test_the_pose_on_the_bag_beside_the_paddle_boarder_goes(still_poses):
    """Bonn frame 8 had two poses on the bag at the front woman's feet (0.58 and 0.53). The one
    whose torso lies beside her box goes. Left (known): the other lies with its torso on the
    bottom edge of her box (1 px inside), so her box still vouches for it."""
    frame = need_data("tracking", "bonn_060470979", "frames", "00008.jpg")
    poses = still_poses.detect_image(cv2.imread(str(frame)))
    on_bag = [p for p in poses if 430 <= float(p.keypoints[[11, 12, 23, 24], 0].mean()) <= 640 and
              float(p.keypoints[[11, 12, 23, 24], 1].mean()) >= 400]
    assert len(on_bag) <= 1, [round(p.score, 2) for p in on_bag]
    assert len(poses) - len(on_bag) >= 4                 # the four paddle-boarders


def test_no_pose_on_the_fuel_tank_under_noise(still_engine):
    """MPII 004645041 with one grey level of noise (seed 1) gave a pose on the truck's fuel tank
    by the driver's hand; the driver alone is a person."""
    img = cv2.imread(str(need_data("keypoints", "mpii", "004645041.jpg")))
    poses = still_engine.detect_image(_noisy(img, 1))
    assert len(poses) == 1 and poses[0].score >= 0.8, [round(p.score, 2) for p in poses]


def test_a_box_that_has_its_person_does_not_vouch_for_a_second_pose():
    """A box whose own pose (extent IoU >= 0.4) is surer vouches for nobody else without a box."""
    person = PersonBox(220, 80, 380, 510, 0.8)
    owner = _candidate(_standing(300, 100, 400), flag=1.0)
    beside = _standing(330, 240, 150)                      # a small shape at the owner's legs
    guess = _candidate(beside, flag=0.8)
    assert topdown.box_extent_iou(owner.keypoints, person) >= topdown.OWN_BOX_IOU
    assert topdown.in_anothers_box(guess, [owner, guess], [person])
    assert topdown.merge([owner, guess], [], [person]) == [owner]
    # with a box of its own it is someone
    e = topdown.pose_extent(beside, 0.5)
    own = PersonBox(e[0] - 3, e[1] - 3, e[2] + 3, e[3] + 3, 0.5)
    assert not topdown.in_anothers_box(guess, [owner, guess], [person, own])


def test_one_pose_per_person_beside_a_surer_one(still_poses):
    """Real photos: a second pose lying on someone's legs or body, vouched for only by that
    person's own box -- at the right man's legs in opencv-doc ``basketball2.png``, at the seated
    man's legs in COCO 40083, on the front paddle-boarder in Bonn frame 16 -- is gone."""
    from pathlib import Path

    img = cv2.imread(str(Path("/usr/share/doc/opencv-doc/examples/data/basketball2.png")))
    assert img is not None, "apt-get install opencv-doc (tools/quickstart.sh does)"
    assert len(still_poses.detect_image(img)) == 2            # the two men
    coco = cv2.imread(str(need_data("keypoints", "coco", "000000040083.jpg")))
    assert len(still_poses.detect_image(coco)) == 2           # the two seated men
    bonn = still_poses.detect_image(cv2.imread(str(need_data("tracking", "bonn_060470979", "frames", "00016.jpg"))))
    front = [p for p in bonn if 340 <= float(p.keypoints[[11, 12, 23, 24], 0].mean()) <= 460 and
             float(p.keypoints[[11, 12, 23, 24], 1].mean()) >= 180]
    assert len(front) == 1 and len(bonn) == 4, [round(p.score, 2) for p in bonn]


def test_a_looser_box_of_a_surer_person_does_not_vouch_either():
    """A second, looser box of the same person (the large-frame crops give one) holds the torso
    of a guess beside them: it is more like the person's extent than like the guess's, so it is
    theirs too, and the guess stands only if the landmark model is sure of a whole body."""
    owner = _candidate(_standing(300, 100, 400), flag=0.99)
    e = topdown.pose_extent(owner.keypoints, 0.5)
    own = PersonBox(e[0] - 5, e[1] - 5, e[2] + 5, e[3] + 5, 0.8)
    loose = PersonBox(e[0] - 60, 0, e[2] + 260, e[3] + 20, 0.4)   # reaching over a pillar beside him
    guess = _candidate(_standing(600, -60, 420), flag=0.89)      # a tall figure on the pillar
    guess.result.keypoints[11:, 2] = 0.66
    assert topdown.torso_boxed(guess.keypoints, [loose]) and not topdown.torso_boxed(guess.keypoints, [own])
    assert topdown.LOOSE_BOX_IOU <= topdown.box_extent_iou(owner.keypoints, loose) < topdown.OWN_BOX_IOU
    assert topdown.box_extent_iou(guess.keypoints, loose) < topdown.box_extent_iou(owner.keypoints, loose)
    assert topdown.in_anothers_box(guess, [owner, guess], [own, loose])
    assert topdown.merge([owner, guess], [], [own, loose]) == [owner]


def test_no_figure_on_the_glass_pillar_in_the_ochuman_photo(still_poses):
    """OCHuman 000817: three people walking (the woman in the cap, the woman left of her, the man
    in black) and a tall glass pillar beside the man, on which the face-keyed detector's oversize
    ROI gave a figure (flag 0.89) whose torso lay in the man's own box and in a looser crop box of
    his (extent IoU 0.22 with his pose). It was reported on x86 and not on aarch64 (emulated)."""
    poses = still_poses.detect_image(cv2.imread(str(need_data("keypoints", "ochuman", "000817.jpg"))))
    assert len(poses) == 3, [round(p.score, 2) for p in poses]
    for p in poses:   # a person's height, not the pillar's (the figure spanned most of the image)
        assert float(np.ptp(p.keypoints[:, 1])) < 0.75 * 1000
