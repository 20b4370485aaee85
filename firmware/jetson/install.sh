#!/usr/bin/env bash
# Set up an NVIDIA Jetson (JetPack 5/6, Ubuntu) as an edgepose unit: apt packages, the service
# user and groups, udev rules, a venv with system site packages in /opt/edgepose/venv (so the
# JetPack OpenCV with GStreamer is used for the CSI camera), the models, the config with an
# nvarguscamerasrc source, and the systemd service with a Jetson drop-in.
# Idempotent: running it twice gives the same system. Run from a checkout of the repository.
set -euo pipefail

FIRMWARE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$(cd "$FIRMWARE/.." && pwd)
SCRIPT_NAME=firmware/jetson/install.sh  # for usage() in common.sh
export SCRIPT_NAME
# shellcheck source-path=SCRIPTDIR
# shellcheck source=../common.sh
source "$FIRMWARE/common.sh"

parse_args "$@"

has_gstreamer_opencv() {
  /usr/bin/python3 -c 'import cv2, re, sys; sys.exit(0 if re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()) else 1)'
}
lacks_gstreamer_opencv() { ! has_gstreamer_opencv; }

step "apt packages"
run apt-get update
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-venv python3-pip mosquitto espeak-ng alsa-utils i2c-tools rsync gstreamer1.0-tools \
  libgbm1 libdrm2 libegl1 libgles2
# libgbm1 libdrm2 libegl1 libgles2: what the SDL in pygame-ce loads to draw on the screen by KMS/DRM

install_groups_and_user
install_udev_rule
install_source_and_venv
step "use JetPack's OpenCV (GStreamer, for nvarguscamerasrc) instead of the pip wheel"
# The opencv-python-headless wheel has no GStreamer; without it the venv falls through to the
# system cv2 (--system-site-packages). Kept when the system OpenCV cannot do GStreamer either.
run_unless lacks_gstreamer_opencv -- "$PREFIX/venv/bin/pip" uninstall --yes --quiet opencv-python-headless
if [[ $DRY_RUN == 0 && -z $ROOT_DIR ]] && lacks_gstreamer_opencv; then
  printf 'warning: the system OpenCV has no GStreamer support: the CSI camera will not open.\n' >&2
  printf '         Install the JetPack OpenCV (apt-get install nvidia-opencv) and run this again.\n' >&2
fi
install_config "$FIRMWARE/jetson/edgepose.toml"
install_models
install_service "$FIRMWARE/jetson/edgepose-jetson.conf"
check_device
printf 'done: %d steps.\n' "$STEP"
