"""The static-INT8 person detector (CenterNet): real calibration frames, a build whose bytes are the
ones the manifest pins, person recall against the float16 file on the shared images, and the
checksum check before every load.

The int8 file is built once per module in a temporary folder (2-4 minutes on this project's
loaded 2-core x86 machine, load 8-12: 64 calibration frames at 512x512).
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from edgepose.errors import ModelError, ModelMissing
from edgepose.inference import calibration as cal
from edgepose.inference import int8, models, runtime
from tests.conftest import ROOT

try:
    import ai_edge_quantizer  # noqa: F401

    HAVE_AEQ = True
except ImportError:  # pragma: no cover - platform dependent
    HAVE_AEQ = False

pytestmark = pytest.mark.skipif(not HAVE_AEQ, reason="ai-edge-quantizer is not installable on this platform")


@pytest.fixture(scope="module")
def frames(data_dir):
    return cal.detector_calibration_frames(data_dir, 64)


@pytest.fixture(scope="module")
def built(tmp_path_factory, person_detector_path, frames):
    out = tmp_path_factory.mktemp("pint8") / "centernet_person_int8.tflite"
    return int8.build_person_int8(person_detector_path, out, frames)


def test_calibration_frames_are_real_letterboxed_frames_outside_the_evaluation_set(frames, data_dir):
    assert len(frames) == 64
    for f in frames:
        assert f.shape == (512, 512, 3) and f.dtype == np.float32
        assert 0.0 <= f.min() and f.max() <= 255.0
        assert f.std() > 10.0  # real scenes, not flat borders
    # letterboxed, never stretched: the clips are wider or taller than square, so their frames
    # have black bars (the detector's pad value 0) on two sides
    barred = sum(bool((f[:8] == 0).all() or (f[:, :8] == 0).all()) for f in frames[:32])
    assert barred >= 24, barred
    videos, images = cal._calibration_sources(data_dir)
    used = [p.relative_to(data_dir).parts[0] for p in videos + images]
    assert used and not set(used) & set(cal.EVALUATION_FOLDERS)


def test_the_build_is_the_pinned_one_and_keeps_float_edges(built, person_detector_path):
    entry = models.load_manifest()[0]["person_detector_int8"]
    # deterministic: the same 64 frames and tool versions give the bytes the manifest pins
    assert built.sha256 == entry.sha256
    # measured: 117 of 233 ops in int8 (the MobileNetV3 trunk); 3.55 MB vs 4.16 MB float16
    assert 100 <= built.ops_quantized < built.ops_total
    assert built.int8_bytes < person_detector_path.stat().st_size
    m = runtime.load(built.out_path, threads=2, expect_inputs=[(1, 512, 512, 3)], expect_outputs=[(1, 100, 6)])
    assert m.inputs[0].dtype == np.float32 and m.outputs[0].dtype == np.float32


def test_int8_recall_stays_within_four_points_of_float16(built, person_detector_path, data_dir):
    sys.path.insert(0, str(ROOT / "tools"))
    import person_int8_eval as pe

    res = pe.evaluate({"float16": person_detector_path, "int8": built.out_path}, data_dir, threads=2, runs=1)
    f, q = res["models"]["float16"], res["models"]["int8"]
    # Measured on the 133 annotated people: float16 0.872 (116), int8 0.842 (112), no false box
    # on the Bonn frames for either, int8 boxes IoU 0.90 with float16's on average.
    assert res["people"] == 133
    assert f["recall_iou50"] >= 0.86
    assert q["recall_iou50"] >= 0.83 and q["recall_iou50"] >= f["recall_iou50"] - 0.04
    assert q["false_boxes_bonn"] <= 1
    assert q["float_box_iou_mean"] >= 0.85


def test_the_manifest_checks_it_before_every_load(built, tmp_path):
    entry = models.load_manifest()[0]["person_detector_int8"]
    with pytest.raises(ModelMissing, match="edgepose models quantize person-detector"):
        models.verified_path("person_detector_int8", tmp_path)
    target = tmp_path / entry.file
    shutil.copyfile(built.out_path, target)
    assert models.verified_path("person_detector_int8", tmp_path) == target
    target.write_bytes(built.out_path.read_bytes()[:100_000])
    with pytest.raises(ModelError, match="corrupt"):
        models.verified_path("person_detector_int8", tmp_path)


def test_a_build_that_differs_from_the_pin_is_refused(tmp_path, person_detector_path, data_dir):
    """Other calibration data give other bytes: not kept, and the message says why."""
    shutil.copyfile(person_detector_path, tmp_path / person_detector_path.name)
    few = tmp_path / "data" / "yoga"
    few.mkdir(parents=True)
    for p in sorted((data_dir / "yoga" / "tree").glob("*"))[:2]:
        shutil.copyfile(p, few / p.name)
    with pytest.raises(ModelError, match="pins"):
        int8.install_person_int8(tmp_path / "data", tmp_path, frames=2)
    entry = models.load_manifest()[0]["person_detector_int8"]
    assert not (tmp_path / entry.file).exists()
    assert not list(tmp_path.glob("*.part*"))
