"""Person-free photos give no pose on a still image (issue 13).

Debian's opencv-doc sample photos (installed by tools/quickstart.sh): 22 with nobody in them,
among them a squirrel, a chick and a graffiti figure on which BlazePose's face-keyed detector and
the landmark model used to agree on a "person". With the person detector, a pose no person box
vouches for must be sure of a whole visible body (edgepose/inference/topdown.py).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
PERSON_FREE = ("aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "board.jpg", "box_in_scene.png",
               "building.jpg", "butterfly.jpg", "chicky_512.png", "fruits.jpg", "graf1.png", "graf3.png",
               "HappyFish.jpg", "home.jpg", "leuvenA.jpg", "orange.jpg", "rubberwhale1.png", "squirrel_cls.jpg",
               "starry_night.jpg", "stuff.jpg", "sudoku.png")


def test_no_pose_on_person_free_photos(still_engine):
    assert still_engine.persons is not None, "the person detector is missing: edgepose models fetch person-detector"
    with_pose = []
    for name in PERSON_FREE:
        img = cv2.imread(str(SAMPLES / name))
        if img is None:
            pytest.fail(f"{SAMPLES / name} missing: apt-get install opencv-doc (tools/quickstart.sh does)")
        poses = still_engine.detect_image(img)
        if poses:
            with_pose.append((name, [round(p.score, 2) for p in poses]))
    assert not with_pose, with_pose


def test_people_are_still_found_in_a_crowd_photo(still_engine):
    """The same rules keep real people: OpenCV's messi5.jpg shows footballers."""
    img = cv2.imread(str(SAMPLES / "messi5.jpg"))
    assert img is not None
    assert len(still_engine.detect_image(img)) >= 2
