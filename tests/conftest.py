"""Shared fixtures: the repo root, the shared data folder and one pose engine per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.pg_server import pg_server, pg_url  # noqa: F401  (one PostgreSQL server per test session)

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
SHARED_TOOLS = (ROOT / ".." / "shared" / "tools").resolve()
MODEL_CACHE = ROOT / "models" / "cache"  # the npm tarballs the model fetches download, kept


def need_data(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data {p} is not here (tests read ../shared/data beside the repo)")
    return p


def needs_pose_models(module: str, *data: Path) -> pytest.MarkDecorator:
    """A module's ``pytestmark`` for tests that run the real BlazePose engine: skip (and say why on
    stderr) unless its two models verify and every path of ``data`` exists."""
    why = None
    try:
        from edgepose.inference import models

        models.verified_path("pose_detection")
        models.verified_path("pose_landmark_full")
    except Exception as e:  # noqa: BLE001 - any reason the real models cannot load
        why = f"pose models not available ({e})"
    missing = [p for p in data if not p.exists()]
    if why is None and missing:
        why = f"shared data missing: {missing[0]}"
    if why:
        print(f"{module} skipped: {why}", file=sys.stderr)
    return pytest.mark.skipif(why is not None, reason=why or "")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return need_data()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history database URL, once for SQLite (in the test's folder) and once for the session's
    real PostgreSQL server (tests.pg_server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def shared_tools():
    """The shared scorers (check_contracts, coco_eval), imported from ../shared/tools."""
    if not (SHARED_TOOLS / "coco_eval.py").exists():
        pytest.skip("../shared/tools is not here")
    sys.path.insert(0, str(SHARED_TOOLS))
    import check_contracts
    import coco_eval

    return check_contracts, coco_eval


@pytest.fixture(scope="session")
def person_detector_path() -> Path:
    """The verified float16 person detector (CenterNet), fetched (tarball kept in MODEL_CACHE) the
    first time on a fresh machine."""
    from edgepose.errors import ModelError
    from edgepose.inference import models

    try:
        return models.verified_path("person_detector")
    except ModelError:
        models.fetch(["person-detector"], cache=MODEL_CACHE)
        return models.verified_path("person_detector")


@pytest.fixture(scope="session")
def still_engine():
    from edgepose.inference.engine import EngineConfig, PoseEngine

    return PoseEngine(EngineConfig(max_people=20))


class _StillPoses:
    """``still_engine.detect_image`` remembered per image content: the accuracy and angle tests
    score the same annotated stills, and the engine gives the same poses for the same pixels
    (tests/test_engine_stability.py holds that), so each still is run once per session."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.memo: dict[tuple, list] = {}
        self.calls = 0

    def detect_image(self, img):
        import hashlib

        key = (img.shape, str(img.dtype), hashlib.blake2b(img.tobytes(), digest_size=16).digest())
        if key not in self.memo:
            self.calls += 1
            self.memo[key] = self.engine.detect_image(img)
        return list(self.memo[key])


@pytest.fixture(scope="session")
def still_poses(still_engine):
    """Poses of still images by the session's still engine, each image computed once."""
    return _StillPoses(still_engine)


@pytest.fixture
def factory():
    """gpiozero's own MockFactory as the pin factory for one test (its test seam, not a fake)."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    f = MockFactory()
    old = Device.pin_factory
    Device.pin_factory = f
    yield f
    f.reset()
    Device.pin_factory = old


def wait_for(pred, timeout: float = 2.0, step: float = 0.005) -> bool:
    """Poll ``pred`` until it is true or ``timeout`` passes; return its last value."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def video_frame(*parts: str, index: int = 0):
    """Frame ``index`` of a shared video (skips the test when the data is not here)."""
    import cv2

    cap = cv2.VideoCapture(str(need_data(*parts)))
    if index:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, img = cap.read()
    cap.release()
    assert ok and img is not None, f"cannot read frame {index} of {'/'.join(parts)}"
    return img
