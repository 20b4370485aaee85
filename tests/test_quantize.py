"""The INT8 BlazePose landmark model: fp16 folding, signature, static int8 on real crops.

The int8 model is built once per module into a temporary folder (about 5 s on this project's
2-core x86 machine, calibration crops included), then checked against the float model on the
annotated people of ``../shared/data/keypoints`` (which calibration never sees).
"""

from __future__ import annotations

import collections
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.errors import ModelError
from edgepose.inference import calibration as cal
from edgepose.inference import flatbuffer as fb
from edgepose.inference import int8, runtime
from edgepose.inference import landmark_eval as ev
from edgepose.inference.blazepose import LandmarkModel
from edgepose.inference.models import verified_path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

try:
    import ai_edge_quantizer  # noqa: F401

    HAVE_AEQ = True
except ImportError as e:  # pragma: no cover - platform dependent
    HAVE_AEQ = False
    print(f"ai-edge-quantizer cannot be imported on this platform ({e}); int8 build tests skipped")

needs_aeq = pytest.mark.skipif(not HAVE_AEQ, reason="ai-edge-quantizer is not installable on this platform")

LANDMARK_OUTPUT_SHAPES = [(1, 195), (1, 1), (1, 256, 256, 1), (1, 64, 64, 39), (1, 117)]


@pytest.fixture(scope="module")
def float_path() -> Path:
    # The float model is fetched by `edgepose models fetch` (and checked against the manifest).
    return verified_path("pose_landmark_full")


@pytest.fixture(scope="module")
def eval_crops():
    crops = ev.person_crops(ev.evaluation_people(DATA))
    assert len(crops) >= 130, "keypoints/ and tracking/ should give at least 130 annotated people"
    return crops


@pytest.fixture(scope="module")
def calibration(float_path):
    return cal.calibration_crops(DATA, 64, float_model=float_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory, float_path, calibration):
    out = tmp_path_factory.mktemp("int8") / "pose_landmark_full_int8.tflite"
    report = int8.build_int8(float_path, out, calibration)
    return out, report


def _ops(data: bytes) -> collections.Counter:
    m = fb.read_model(data)
    return collections.Counter(fb.op_name(m, op) for op in m.subgraphs[0].operators)


def test_folding_is_exact_and_adds_a_signature(float_path, eval_crops):
    raw = float_path.read_bytes()
    folded, outputs, notes = fb.prepare_float(raw)
    assert outputs == list(fb.LANDMARK_OUTPUTS)
    ops = _ops(folded)
    assert ops["DEQUANTIZE"] == 0 and _ops(raw)["DEQUANTIZE"] == 192
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=folded)
    sig = it.get_signature_list()
    assert sig == {"serving_default": {"inputs": ["input_1"], "outputs": list(fb.LANDMARK_OUTPUTS)}}
    # fp16 -> fp32 is exact, so the folded model computes the same numbers as the original.
    fm = runtime.load(float_path, threads=2)
    runner = it.get_signature_runner("serving_default")
    x = eval_crops[0][2][None]
    got = runner(input_1=x)
    want = fm.run(x)
    for name, w in zip(fb.LANDMARK_OUTPUTS, want, strict=True):
        np.testing.assert_allclose(got[name], w, rtol=1e-5, atol=1e-4)


def test_calibration_crops_are_real_person_crops(calibration, float_path):
    assert len(calibration) == 64
    # seven in eight show a person (the float model says so), one in eight is background
    fm = LandmarkModel(float_path, threads=2, refine_with_heatmap=False)
    flags = np.array([fm.run_crop(c).score for c in calibration])
    assert (flags[:56] >= 0.5).all() and (flags[56:] < 0.2).all()
    for c in calibration:
        assert c.shape == (256, 256, 3) and c.dtype == np.float32
        assert 0.0 <= c.min() and c.max() <= 1.0
    assert all(c.std() > 0.05 for c in calibration[:56])  # real scenes with people, not flat borders


INT8_OUTPUTS = ["Identity", "Identity_1", "Identity_3", "Identity_4"]  # no segmentation by default
INT8_OUTPUT_SHAPES = [(1, 195), (1, 1), (1, 64, 64, 39), (1, 117)]


@needs_aeq
def test_int8_file_is_smaller_loads_and_is_verified(built, float_path):
    out, report = built
    assert out.stat().st_size == report.int8_bytes
    # measured: 4.60 MB vs 6.44 MB (71 %): int8 trunk, fp16 stem/heads, segmentation decoder gone
    assert report.int8_bytes < 0.75 * float_path.stat().st_size
    # measured: 94 of 120 ops in int8 (stem and the last 2x2 stage + heads stay float)
    assert report.ops_total == 120 and 90 <= report.ops_quantized < report.ops_total
    assert report.outputs == INT8_OUTPUTS
    model = runtime.load(out, threads=2, expect_inputs=[(1, 256, 256, 3)], expect_outputs=INT8_OUTPUT_SHAPES)
    assert [s.name for s in model.outputs] == INT8_OUTPUTS
    # float stem and heads: no int8 round trip at the edges (it clipped pixels above 0.94 and
    # capped the pose flag at 0.67); the heatmap comes from the int8 branch
    dtypes = {s.name: s.dtype for s in model.inputs + model.outputs}
    assert dtypes == {"input_1": np.float32, "Identity": np.float32, "Identity_1": np.float32,
                      "Identity_3": np.int8, "Identity_4": np.float32}
    # the checksum side file makes it loadable through the manifest like a fetched model
    assert verified_path("pose_landmark_full_int8", out.parent) == out
    assert report.sha256 in out.with_name(out.name + ".sha256").read_text()


@needs_aeq
def test_int8_stays_close_to_float_on_real_crops(built, float_path, eval_crops):
    out, _ = built
    fm = LandmarkModel(float_path, threads=2, refine_with_heatmap=False)
    qm = LandmarkModel(out, threads=2, refine_with_heatmap=False)
    c = ev.compare_models(fm, qm, eval_crops)
    # Measured (64 calibration crops; 136 people of keypoints/ and tracking/): PCK@0.2 float
    # 0.914, int8 0.913 (0.1 points lost), landmark |int8 - float| mean 3.9 px / p95 9.3 px
    # (256-px crop), visibility agreement 0.96, pose-flag agreement 0.99, pose flag mean
    # float 0.95 / int8 0.94, visibility mean float 0.89 / int8 0.90.
    assert c.people >= 130
    assert c.pck_float > 0.88
    assert c.pck_drop_points <= 3.0
    assert c.landmark_err_px_mean < 6.0 and c.landmark_err_px_p95 < 15.0
    assert c.visibility_agreement > 0.92
    assert c.pose_flag_agreement > 0.95
    # no collapse to near-zero confidences, no drift of the flag
    assert c.pose_flag_int8_mean > 0.85 and abs(c.pose_flag_int8_mean - c.pose_flag_float_mean) < 0.05
    assert c.visibility_int8_mean > 0.8
    skier = next(x for p, _, x in eval_crops if p.image.name == "000000000785.jpg")
    assert qm.run_crop(skier).score > 0.95


@needs_aeq
def test_keeping_segmentation_keeps_the_float_output_layout(tmp_path, float_path, calibration, eval_crops):
    out = tmp_path / "with_seg.tflite"
    r = int8.build_int8(float_path, out, calibration, drop_segmentation=False, evaluate=False)
    assert r.outputs == list(fb.LANDMARK_OUTPUTS)
    m = runtime.load(out, threads=2, expect_outputs=LANDMARK_OUTPUT_SHAPES)
    assert [s.name for s in m.outputs] == list(fb.LANDMARK_OUTPUTS)
    assert _ops(out.read_bytes())["RESIZE_BILINEAR"] == _ops(float_path.read_bytes())["RESIZE_BILINEAR"]
    skier = next(x for p, _, x in eval_crops if p.image.name == "000000000785.jpg")
    res = LandmarkModel(out, threads=2, refine_with_heatmap=False).run_crop(skier)
    assert res.score > 0.5 and res.keypoints[11:17, 2].min() > 0.5  # whole body in view


def test_lean_float_drops_segmentation_and_nothing_else(tmp_path, float_path, eval_crops):
    out = tmp_path / "lean.tflite"
    before, after = fb.build_lean_float(float_path, out)
    assert (before, after) == (332, 286)  # 20 decoder ops + their 26 fp16 DEQUANTIZEs
    fm = runtime.load(float_path, threads=2)
    lm = runtime.load(out, threads=2, expect_outputs=INT8_OUTPUT_SHAPES)
    for _, _, x in eval_crops[::20]:
        full = dict(zip([s.name for s in fm.outputs], fm.run(x[None]), strict=True))
        for spec, y in zip(lm.outputs, lm.run(x[None]), strict=True):
            np.testing.assert_array_equal(y, full[spec.name])


def test_rois_never_mirror_the_person(eval_crops):
    for person, roi, _ in eval_crops:
        m = roi.crop_to_image(256)
        assert np.linalg.det(m[:, :2]) > 0, person.image
        inv = cv2.invertAffineTransform(m)
        back = (m[:, :2] @ np.array([10.0, 200.0]) + m[:, 2]) @ inv[:, :2].T + inv[:, 2]
        np.testing.assert_allclose(back, [10.0, 200.0], atol=1e-6)


def test_bad_inputs_give_clear_errors(tmp_path, float_path):
    with pytest.raises(ModelError, match="models fetch"):
        int8.build_int8(tmp_path / "missing.tflite", tmp_path / "o.tflite", [np.zeros((256, 256, 3), np.float32)])
    cut = tmp_path / "truncated.tflite"
    cut.write_bytes(float_path.read_bytes()[:4096])
    with pytest.raises(ModelError, match="truncated"):
        int8.build_int8(cut, tmp_path / "o.tflite", [np.zeros((256, 256, 3), np.float32)])
    with pytest.raises(ModelError, match="256x256x3"):
        int8.build_int8(float_path, tmp_path / "o.tflite", [np.zeros((224, 224, 3), np.float32)])
    with pytest.raises(ModelError, match="does not exist"):
        cal.calibration_crops(tmp_path / "nowhere")
    assert not (tmp_path / "o.tflite").exists()
