"""``run_session`` releases what it opened, also when the start fails half-way."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgepose.capture import sources
from edgepose.errors import ModelError, SourceError
from edgepose.inference.engine import EngineConfig
from edgepose.live import runner
from edgepose.live.runner import RunOptions, run_session
from tests.conftest import need_data


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every source run_session opens (the real ones, remembered)."""
    seen: list = []

    def remember(spec: str, width: int | None = None, height: int | None = None):  # type: ignore[no-untyped-def]
        s = sources.open_source(spec, width, height)
        seen.append(s)
        return s

    monkeypatch.setattr(runner, "open_source", remember)
    return seen


def test_a_failed_engine_start_closes_the_source(opened: list, tmp_path: Path) -> None:
    video = need_data("exercise", "front_raise_side.mp4")
    with pytest.raises(ModelError):
        run_session(RunOptions(source=str(video), engine=EngineConfig(landmark=str(tmp_path / "missing.tflite"))))
    (src,) = opened
    assert src._closed and not src._cap.isOpened(), "the video capture must be released"


def test_a_failed_sink_start_closes_source_and_engine(opened: list, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    video = need_data("exercise", "front_raise_side.mp4")
    engines: list = []
    real = runner.make_engine

    def remember_engine(cfg: EngineConfig):  # type: ignore[no-untyped-def]
        e = real(cfg)
        engines.append(e)
        return e

    monkeypatch.setattr(runner, "make_engine", remember_engine)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        run_session(RunOptions(source=str(video), poses=blocker / "sub" / "poses.jsonl"))
    (src,) = opened
    assert src._closed and not src._cap.isOpened()
    assert len(engines) == 1 and not engines[0]._tracks


def test_a_finished_run_closes_the_source_and_close_twice_is_harmless(opened: list, tmp_path: Path) -> None:
    out = run_session(RunOptions(source=str(need_data("exercise", "front_raise_side.mp4")),
                                 poses=tmp_path / "p.jsonl"))
    assert out.stats.frames_out > 100
    (src,) = opened
    assert src._closed
    src.close()  # idempotent
    with pytest.raises(SourceError):
        sources.open_source(str(tmp_path / "nowhere.mp4"))
