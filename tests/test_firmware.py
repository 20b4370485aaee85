"""Install scripts: shellcheck, dry-run step lists, and idempotence on a staging root."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware"
SCRIPTS = {"rpi5": FW / "rpi5" / "install.sh", "jetson": FW / "jetson" / "install.sh"}

PI_CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[all]
"""


def sh(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["bash", *args], capture_output=True, text=True, timeout=60, cwd=cwd or ROOT)
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode & 0o7777)
    return out


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
def test_scripts_are_shellcheck_clean():
    files = [str(SCRIPTS["rpi5"]), str(SCRIPTS["jetson"]), str(FW / "common.sh")]
    p = subprocess.run(["shellcheck", "-x", "--severity=style", *files], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("board", ["rpi5", "jetson"])
def test_scripts_are_strict_and_executable(board):
    text = SCRIPTS[board].read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SCRIPTS[board], os.X_OK)


def test_rpi5_dry_run_lists_every_step():
    out = sh(str(SCRIPTS["rpi5"]), "--dry-run").stdout
    steps = [line for line in out.splitlines() if line.startswith("==> ")]
    assert len(steps) >= 9
    for want in ("boot config", "apt packages", "service user", "udev rule", "venv", "configuration", "models",
                 "systemd unit", "check the device"):
        assert any(want in s for s in steps), (want, steps)
    apt = next(line for line in out.splitlines() if "apt-get install" in line)
    for pkg in ("python3-picamera2", "mosquitto", "espeak-ng", "alsa-utils", "python3-venv", "python3-lgpio",
                "libgbm1", "libdrm2", "libegl1", "libgles2"):  # the last four: the live window by KMS/DRM
        assert f" {pkg}" in apt, pkg
    assert "python3 -m venv --system-site-packages /opt/edgepose/venv" in out
    assert "/opt/edgepose/venv/bin/edgepose models fetch" in out
    assert "useradd --system" in out and "usermod --append --groups video,render,audio,gpio,i2c edgepose" in out
    assert "/etc/udev/rules.d/60-edgepose.rules" in out
    assert "/etc/systemd/system/edgepose.service" in out and "systemctl enable mosquitto.service edgepose.service" in out
    assert "/boot/firmware/config.txt" in out
    # every command line is printed, nothing is run
    assert all(line.startswith(("==> ", "+ ", "done:")) for line in out.splitlines()), out


@pytest.mark.parametrize("board", ["rpi5", "jetson"])
def test_dry_run_is_repeatable_and_independent_of_cwd(board, tmp_path):
    first = sh(str(SCRIPTS[board]), "--dry-run").stdout
    second = sh(str(SCRIPTS[board]), "--dry-run", cwd=tmp_path).stdout
    assert first == second


def test_jetson_dry_run_uses_gstreamer_and_its_drop_in():
    out = sh(str(SCRIPTS["jetson"]), "--dry-run").stdout
    assert "config.txt" not in out, "no Raspberry Pi boot config on a Jetson"
    assert "firmware/jetson/edgepose.toml /etc/edgepose/edgepose.toml" in out
    assert "/etc/systemd/system/edgepose.service.d/board.conf" in out
    assert "pip uninstall --yes --quiet opencv-python-headless" in out
    assert "python3-picamera2" not in out


def test_rpi5_staging_install_is_idempotent(tmp_path):
    root = tmp_path / "root"
    boot = root / "boot" / "firmware" / "config.txt"
    boot.parent.mkdir(parents=True)
    boot.write_text(PI_CONFIG_TXT)

    out1 = sh(str(SCRIPTS["rpi5"]), "--root", str(root), "--skip-models").stdout
    snap1 = snapshot(root)
    text = boot.read_text()
    assert text.startswith(PI_CONFIG_TXT), "the board's own settings are kept"
    assert text.count("# BEGIN edgepose") == 1 and text.rstrip().endswith("# END edgepose")
    assert "dtparam=i2c_arm=on" in text and "camera_auto_detect=1" in text
    assert (root / "boot/firmware/config.txt.edgepose-orig").read_text() == PI_CONFIG_TXT
    assert (root / "etc/systemd/system/edgepose.service").read_bytes() == (ROOT / "systemd/edgepose.service").read_bytes()
    assert (root / "etc/udev/rules.d/60-edgepose.rules").exists()
    assert (root / "etc/edgepose/edgepose.toml").read_bytes() == (FW / "edgepose.example.toml").read_bytes()
    assert "updated: /boot/firmware/config.txt" in out1 and "skip (--root): apt-get update" in out1

    out2 = sh(str(SCRIPTS["rpi5"]), "--root", str(root), "--skip-models").stdout
    assert snapshot(root) == snap1, "a second run changes nothing"
    assert "unchanged: /boot/firmware/config.txt" in out2
    assert "unchanged: /etc/systemd/system/edgepose.service" in out2
    assert "installed:" not in out2 and "updated:" not in out2

    # a site-edited config survives a re-run; an edited boot block is put back to the shipped one
    site = root / "etc/edgepose/edgepose.toml"
    site.write_text('[device]\nid = "clinic-7"\n')
    boot.write_text(boot.read_text().replace("dtparam=i2c_arm=on", "dtparam=i2c_arm=off") + "gpu_mem=128\n")
    sh(str(SCRIPTS["rpi5"]), "--root", str(root), "--skip-models")
    assert site.read_text() == '[device]\nid = "clinic-7"\n'
    text = boot.read_text()
    assert text.count("# BEGIN edgepose") == 1 and "dtparam=i2c_arm=on" in text and "i2c_arm=off" not in text
    assert "gpu_mem=128" in text, "lines the user added after the block are kept"


def test_jetson_staging_install_is_idempotent(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    sh(str(SCRIPTS["jetson"]), "--root", str(root), "--skip-models")
    snap1 = snapshot(root)
    assert "etc/systemd/system/edgepose.service.d/board.conf" in snap1
    assert "boot/firmware/config.txt" not in snap1
    sh(str(SCRIPTS["jetson"]), "--root", str(root), "--skip-models")
    assert snapshot(root) == snap1


def test_missing_boot_config_is_a_clear_error(tmp_path):
    p = sh(str(SCRIPTS["rpi5"]), "--root", str(tmp_path), "--skip-models", check=False)
    assert p.returncode != 0
    assert "/boot/firmware/config.txt does not exist" in p.stderr


def test_bad_option_and_help():
    p = sh(str(SCRIPTS["rpi5"]), "--frobnicate", check=False)
    assert p.returncode != 0 and "unknown option --frobnicate" in p.stderr
    assert "--dry-run" in sh(str(SCRIPTS["rpi5"]), "--help").stdout


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_refuses_to_run_unprivileged_without_dry_run():
    if os.geteuid() != 0:
        p = sh(str(SCRIPTS["rpi5"]), check=False)
    else:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash",
                            str(SCRIPTS["rpi5"])], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "run as root" in p.stderr


def test_boot_fragment_and_udev_rule():
    frag = (FW / "rpi5" / "config.txt.fragment").read_text().splitlines()
    assert frag[0] == "# BEGIN edgepose" and frag[-1] == "# END edgepose"
    assert "[all]" in frag and "camera_auto_detect=1" in frag and "dtparam=i2c_arm=on" in frag
    rules = (FW / "udev" / "60-edgepose.rules").read_text()
    assert 'KERNEL=="gpiochip[0-9]*", GROUP="gpio", MODE="0660"' in rules
    assert 'KERNEL=="i2c-[0-9]*", GROUP="i2c", MODE="0660"' in rules


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt-get install systemd)")
def test_unit_with_jetson_drop_in_verifies(tmp_path):
    exe = ROOT / ".venv" / "bin" / "edgepose"
    if not exe.exists():
        exe = Path(shutil.which("python3") or "/bin/true")
    (tmp_path / "edgepose.service").write_text(
        (ROOT / "systemd" / "edgepose.service").read_text().replace("/opt/edgepose/venv/bin/edgepose", str(exe)))
    d = tmp_path / "edgepose.service.d"
    d.mkdir()
    shutil.copy(FW / "jetson" / "edgepose-jetson.conf", d / "board.conf")
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "edgepose.service")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "board.conf" not in p.stderr, p.stderr
