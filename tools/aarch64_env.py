"""An emulated aarch64 Python for the parity check (tools/aarch64_parity.py); never part of an install.

Everything comes from the registries this machine reaches -- Debian packages and PyPI -- and is
kept in the user cache (``$EDGEPOSE_CACHE``, else ``~/.cache/edgepose``), not in the repo:

1. host tools: ``qemu-user-static`` (``qemu-aarch64-static``) and ``debootstrap``
   (``apt-get install -y --no-install-recommends qemu-user-static debootstrap`` when root);
2. ``aarch64-root/``: ``debootstrap --foreign --variant=minbase --arch=arm64
   --include=python3,python3-venv bookworm``, then every downloaded ``.deb`` unpacked with
   ``dpkg-deb -x``. debootstrap's second stage (maintainer scripts) needs the kernel to run arm64
   binaries by itself (binfmt_misc), which an unprivileged container cannot register; Python does
   not need those scripts, so the tree is used as an interpreter prefix: ``qemu-aarch64-static -L
   aarch64-root aarch64-root/usr/bin/python3.11`` (Debian's own arm64 CPython 3.11);
3. ``aarch64-site/<key>/``: the device dependencies as aarch64 wheels
   (``pip install --target --platform manylinux_2_*_aarch64 --only-binary=:all:``, run by the host
   pip), pinned to the versions of the native environment so only the architecture differs;
4. ``aarch64-root/proc/cpuinfo``: an Arm description of the emulated core. qemu 7.2 passes the
   host's x86 ``/proc/cpuinfo`` through, and XNNPACK's CPU detection then crashes (SIGSEGV in
   ``allocate_tensors``); qemu looks paths up under ``-L`` first, so this file is what the guest reads.

Each step writes a marker and is skipped when its marker matches, so a second call costs seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
INCLUDE = "python3,python3-venv"
# The packages `edgepose infer` imports on the device; their own requirements are added from
# the native environment's metadata.
DEVICE_PACKAGES = ("ai-edge-litert", "numpy", "opencv-python-headless", "scipy")
# glibc of bookworm is 2.36: every manylinux tag up to it is installable there.
PLATFORMS = ["manylinux2014_aarch64", "linux_aarch64"] + [
    f"manylinux_2_{v}_aarch64" for v in (17, 24, 26, 27, 28, 31, 34, 35, 36)]

# Emulated cores (QEMU_CPU) and the /proc/cpuinfo a real one shows: implementer, variant, part, revision.
CORES = {
    "cortex-a76": ("0x41", "0x4", "0xd0b", "1", "Raspberry Pi 5 (Cortex-A76 r4p1)"),
    "cortex-a72": ("0x41", "0x0", "0xd08", "3", "Raspberry Pi 4 (Cortex-A72 r0p3)"),
    "neoverse-n1": ("0x41", "0x3", "0xd0c", "1", "Neoverse-N1 r3p1 (Arm servers)"),
}
_FEATURES = {
    "cortex-a72": "fp asimd evtstrm crc32 cpuid",
    "cortex-a76": "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
    "neoverse-n1": "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs",
}


def say(msg: str) -> None:
    print(f"[aarch64-env] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    env = os.environ.get("EDGEPOSE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgepose"


@dataclass(frozen=True)
class Emulator:
    """How to start the emulated interpreter."""

    qemu: str
    root: Path
    site: Path
    cpu: str
    pins: dict[str, str]

    @property
    def python(self) -> Path:
        return self.root / "usr" / "bin" / "python3.11"

    def argv(self) -> list[str]:
        return [self.qemu, "-L", str(self.root), str(self.python)]

    def env(self) -> dict[str, str]:
        return {"QEMU_CPU": self.cpu}


def _run(cmd: list[str], **kw) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def ensure_host_tools() -> str:
    """``qemu-aarch64-static`` (path), installing qemu-user-static and debootstrap if missing."""
    missing = [t for t in ("qemu-aarch64-static", "debootstrap", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", "qemu-user-static", "debootstrap"]
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise SystemExit(f"missing {', '.join(missing)}; install them with: {' '.join(cmd)}")
        say(f"host tools missing ({', '.join(missing)}): installing from Debian")
        _run(cmd)
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu is not None
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()
    say(f"host tools ok: {out[0] if out else qemu}, debootstrap")
    return qemu


def _binfmt_note() -> str:
    status = Path("/proc/sys/fs/binfmt_misc/status")
    if status.exists():
        return "binfmt_misc is mounted (not needed: qemu is called explicitly)"
    return "binfmt_misc is not mounted here (so no debootstrap --second-stage; qemu is called explicitly)"


def ensure_rootfs(root: Path, qemu: str) -> None:
    marker = root / ".edgepose-rootfs"
    want = f"{SUITE} arm64 minbase include={INCLUDE}\n"
    if marker.exists() and marker.read_text() == want and (root / "usr/bin/python3.11").exists():
        say(f"rootfs ok: {root} ({want.strip()})")
        return
    if root.exists():
        say(f"rootfs {root} incomplete: removing it and starting again")
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    say(f"rootfs: debootstrap first stage of Debian {SUITE} arm64 into {root} (about a minute)")
    _run(["debootstrap", "--foreign", "--variant=minbase", "--arch=arm64", f"--include={INCLUDE}",
          SUITE, str(root), MIRROR], stdout=subprocess.DEVNULL)
    say(_binfmt_note())
    debs = sorted((root / "var/cache/apt/archives").glob("*.deb"))
    say(f"rootfs: unpacking {len(debs)} arm64 packages with dpkg-deb -x (no maintainer scripts)")
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    probe = subprocess.run([qemu, "-L", str(root), str(root / "usr/bin/python3.11"), "-c",
                            "import platform, sys, ssl, ctypes; print(platform.machine(), sys.version.split()[0])"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.startswith("aarch64"):
        raise SystemExit(f"the emulated python does not start: {probe.stderr.strip() or probe.stdout}")
    say(f"rootfs ok: emulated python {probe.stdout.strip()}")
    marker.write_text(want)


def write_cpuinfo(root: Path, cpu: str) -> None:
    """The guest's /proc/cpuinfo for ``cpu`` (see the module docstring for why)."""
    if cpu not in CORES:
        raise SystemExit(f"--qemu-cpu {cpu}: choose one of {', '.join(CORES)}")
    impl, variant, part, rev, _ = CORES[cpu]
    blocks = [
        f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {_FEATURES[cpu]}\nCPU implementer\t: {impl}\n"
        f"CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {rev}\n"
        for i in range(os.cpu_count() or 1)
    ]
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc" / "cpuinfo").write_text("\n".join(blocks) + "\n")


def _req_name(req: str) -> str | None:
    """The distribution name of a requirement string that applies to a plain install, else None."""
    from packaging.requirements import Requirement

    r = Requirement(req)
    if r.marker is not None and not r.marker.evaluate({"extra": "", "platform_machine": "aarch64"}):
        return None
    return r.name


def native_pins(top: tuple[str, ...] = DEVICE_PACKAGES) -> dict[str, str]:
    """``name -> version`` of ``top`` and everything they require, as installed natively."""
    pins: dict[str, str] = {}
    todo = list(top)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in pins:
            continue
        try:
            pins[key] = metadata.version(name)
        except metadata.PackageNotFoundError as e:
            raise SystemExit(f"{name} is not installed natively; the pins come from the native venv") from e
        for req in metadata.requires(name) or []:
            dep = _req_name(req)
            if dep:
                todo.append(dep)
    return dict(sorted(pins.items()))


def ensure_site(base: Path, pins: dict[str, str]) -> Path:
    key = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]
    site = base / key
    marker = site / ".edgepose-site.json"
    if marker.exists() and json.loads(marker.read_text()) == pins:
        say(f"aarch64 wheels ok: {site} ({len(pins)} packages pinned to the native versions)")
        return site
    if site.exists():
        shutil.rmtree(site)
    say(f"aarch64 wheels: installing {len(pins)} packages from PyPI into {site}")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps",
           "--target", str(site), "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", "--abi", "cp311"]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    _run(cmd + [f"{n}=={v}" for n, v in pins.items()])
    marker.write_text(json.dumps(pins))
    return site


def prepare(cpu: str = "cortex-a76") -> Emulator:
    """The emulated aarch64 interpreter with the device dependencies, built or reused."""
    base = cache_dir()
    qemu = ensure_host_tools()
    root = base / "aarch64-root"
    ensure_rootfs(root, qemu)
    write_cpuinfo(root, cpu)
    say(f"emulated core: QEMU_CPU={cpu}, {CORES[cpu][4]}")
    pins = native_pins()
    site = ensure_site(base / "aarch64-site", pins)
    emu = Emulator(qemu=qemu, root=root, site=site, cpu=cpu, pins=pins)
    probe = subprocess.run(
        emu.argv() + ["-P", "-c", "import platform, numpy, cv2, ai_edge_litert.interpreter; "
                      "print(platform.machine(), numpy.__version__, cv2.__version__)"],
        capture_output=True, text=True, env={**os.environ, **emu.env(), "PYTHONPATH": str(site)})
    if probe.returncode != 0:
        raise SystemExit(f"the aarch64 wheels do not import under emulation:\n{probe.stderr}")
    say(f"ready: {probe.stdout.strip()}")
    return emu


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Prepare (or check) the emulated aarch64 Python.")
    ap.add_argument("--qemu-cpu", default="cortex-a76", choices=sorted(CORES))
    a = ap.parse_args()
    e = prepare(a.qemu_cpu)
    print(" ".join(e.argv()))
