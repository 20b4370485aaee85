"""A device install has none of the staff side's packages (the ``staff`` extra of pyproject.toml):
the device commands work without them and a staff command says what to install.

Each command runs in a subprocess whose ``sitecustomize`` blocks every module of the extra (a
meta-path finder raising ModuleNotFoundError, as on a device where they were never installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import need_data
from tests.mqtt_broker import Broker, Subscriber, broker_fixture  # noqa: F401  (the "broker" fixture)

REPO = Path(__file__).resolve().parents[1]
EDGEPOSE = [sys.executable, "-m", "edgepose.cli"]
BLOCKER = '''
import os, sys
from importlib.abc import MetaPathFinder

BLOCKED = set(os.environ["EDGEPOSE_TEST_BLOCK"].split(","))


class _NotOnThisDevice(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            with open(os.environ["EDGEPOSE_TEST_BLOCK_LOG"], "a") as f:
                f.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotOnThisDevice())
'''


def _closure(reqs: list[str]) -> set[str]:
    """The distributions ``reqs`` install, with everything they pull in (as installed here)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in reqs]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # e.g. an optional dependency of a dependency that is not installed
        key = f"{name}[{','.join(sorted(req.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for sub in dist.requires or []:
            for e in ("", *sorted(req.extras)):
                todo.append((Requirement(sub), e))
    return {k.split("[")[0] for k in seen}


def staff_only_modules() -> tuple[set[str], dict[str, set[str]]]:
    """Top-level modules of what the ``staff`` extra installs beyond the device's own dependencies
    (pyproject.toml), and per distribution of the extra its modules."""
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    staff = project["optional-dependencies"]["staff"]
    only = _closure(staff) - _closure(project["dependencies"])
    direct = {canonicalize_name(Requirement(r).name) for r in staff}
    assert direct <= only, f"staff packages the device also needs: {direct - only}"
    mods: set[str] = set()
    per: dict[str, set[str]] = {d: set() for d in direct}
    for mod, dists in packages_distributions().items():
        for d in map(canonicalize_name, dists):
            if d in only and not mod.startswith("__"):
                mods.add(mod)
                if d in per:
                    per[d].add(mod)
    return mods, per


@pytest.fixture(scope="module")
def device_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from edgepose.commands import STAFF_MODULES

    d = tmp_path_factory.mktemp("no-staff")
    (d / "sitecustomize.py").write_text(BLOCKER)
    blocked, per = staff_only_modules()
    for dist, mods in per.items():  # the CLI's install hint knows every package of the extra
        assert mods & STAFF_MODULES, f"{dist} ({sorted(mods)}) is not in edgepose.commands.STAFF_MODULES"
    return dict(os.environ, PYTHONPATH=f"{d}{os.pathsep}{REPO}", EDGEPOSE_TEST_BLOCK=",".join(sorted(blocked)),
                EDGEPOSE_TEST_BLOCK_LOG=str(d / "blocked.log"), EDGEPOSE_STATE=str(d / "state"))


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEPOSE, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def test_the_blocker_blocks(device_env: dict[str, str]) -> None:
    for mod in ("sqlalchemy", "starlette", "jinja2", "psycopg", "alembic", "uvicorn"):
        r = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True, text=True, env=device_env)
        assert r.returncode == 1 and "ModuleNotFoundError" in r.stderr, (mod, r.stderr)
    r = subprocess.run([sys.executable, "-c", "import numpy, cv2, paho.mqtt.client"], env=device_env)
    assert r.returncode == 0


def test_device_commands_work_without_the_staff_packages(device_env: dict[str, str], tmp_path: Path) -> None:
    tried = tmp_path / "tried.log"
    device_env = dict(device_env, EDGEPOSE_TEST_BLOCK_LOG=str(tried))
    r = run(device_env, "--help")
    assert r.returncode == 0 and "run" in r.stdout and "serve" in r.stdout and "ingest" in r.stdout, r.stderr
    for cmd in ("run", "serve", "outbox", "models", "doctor", "analyze", "ingest", "dashboard", "clients"):
        r = run(device_env, cmd, "--help")
        assert r.returncode == 0 and "usage: edgepose" in r.stdout, (cmd, r.stderr)
    r = run(device_env, "programs")
    assert r.returncode == 0 and "squat" in r.stdout, r.stderr
    cfg = tmp_path / "edgepose.toml"
    cfg.write_text(f'[device]\nid = "dev-1"\nstate_dir = "{tmp_path / "state"}"\n[gpio]\nenabled = false\n'
                   '[display]\nkind = "none"\n[audio]\nenabled = false\n')
    r = run(device_env, "serve", "--config", str(cfg), "--validate-config")
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
    r = run(device_env, "outbox", "status", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    r = run(device_env, "models", "list")
    assert r.returncode == 0 and "pose_landmark" in r.stdout, r.stderr
    r = run(device_env, "doctor", "--config", str(cfg))  # every check runs (no broker here: that one may fail)
    assert r.returncode in (0, 1) and " ok, " in r.stdout and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    assert not tried.exists(), f"device commands tried to import staff modules: {tried.read_text()}"


def test_a_device_session_publishes_without_the_staff_packages(device_env: dict[str, str], tmp_path: Path,
                                                                broker: Broker) -> None:
    """`edgepose run` with a program and MQTT (engine, session, outbox, publisher) on a real clip."""
    import cv2

    src = cv2.VideoCapture(str(need_data("exercise", "squat_side_gym.mp4")))
    clip = tmp_path / "clip.mp4"
    out = None
    for _ in range(45):  # 1.5 s of the clip is enough to run every stage
        ok, frame = src.read()
        assert ok
        if out is None:
            out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (frame.shape[1], frame.shape[0]))
        out.write(frame)
    src.release()
    out.release()
    sub = Subscriber(broker.port, ["edgepose/dev-2/session/summary"])
    tried = tmp_path / "tried.log"
    device_env = dict(device_env, EDGEPOSE_TEST_BLOCK_LOG=str(tried))
    try:
        r = run(device_env, "run", "--source", str(clip), "--program", "squat", "--mqtt", f"127.0.0.1:{broker.port}",
                "--device-id", "dev-2", "--summary", str(tmp_path / "s.json"), "--quiet", timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        assert sub.wait_for(lambda: sub.json("/session/summary"), 20)
        [got] = {m["msg_id"]: m for m in sub.json("/session/summary")}.values()
        assert got["program"] == "squat" and got["device_id"] == "dev-2"
        assert json.loads((tmp_path / "s.json").read_text())["session_id"] == got["session_id"]
        assert not tried.exists(), f"the session tried to import staff modules: {tried.read_text()}"
    finally:
        sub.close()


@pytest.mark.parametrize("args", [
    ("ingest", "--mqtt", "127.0.0.1:1", "--db", "sqlite:///{tmp}/h.sqlite"),
    ("history", "--db", "sqlite:///{tmp}/h.sqlite"),
    ("clients", "list", "--db", "sqlite:///{tmp}/h.sqlite"),
    ("clients", "forget", "C-104", "--db", "sqlite:///{tmp}/h.sqlite"),
    ("users", "list", "--db", "sqlite:///{tmp}/h.sqlite"),
    ("dashboard", "--db", "sqlite:///{tmp}/h.sqlite", "--port", "0"),
])
def test_a_staff_command_names_the_extra(device_env: dict[str, str], tmp_path: Path, args: tuple[str, ...]) -> None:
    r = run(device_env, *(a.format(tmp=tmp_path) for a in args), timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "pip install 'edgepose[staff]'" in r.stderr and "is not installed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "h.sqlite").exists()
