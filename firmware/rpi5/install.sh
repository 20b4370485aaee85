#!/usr/bin/env bash
# Set up a fresh Raspberry Pi OS (bookworm, 64-bit) on a Raspberry Pi 5 as an edgepose unit:
# boot config for the camera and I2C, apt packages, the service user and groups, udev rules, a venv
# with system site packages in /opt/edgepose/venv, the models, the config and the systemd service.
# Idempotent: running it twice gives the same system. Run from a checkout of the repository.
set -euo pipefail

FIRMWARE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$(cd "$FIRMWARE/.." && pwd)
SCRIPT_NAME=firmware/rpi5/install.sh  # for usage() in common.sh
export SCRIPT_NAME
# shellcheck source-path=SCRIPTDIR
# shellcheck source=../common.sh
source "$FIRMWARE/common.sh"

parse_args "$@"

BOOT_CONFIG=/boot/firmware/config.txt
if [[ $DRY_RUN == 0 && -z $ROOT_DIR && ! -f $BOOT_CONFIG && -f /boot/config.txt ]]; then
  BOOT_CONFIG=/boot/config.txt  # Raspberry Pi OS before bookworm
fi

step "boot config: camera, KMS display, I2C and audio ($BOOT_CONFIG)"
put_block "$FIRMWARE/rpi5/config.txt.fragment" "$BOOT_CONFIG"

step "apt packages"
run apt-get update
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  python3-picamera2 python3-lgpio python3-venv python3-pip mosquitto espeak-ng alsa-utils i2c-tools rsync \
  libgbm1 libdrm2 libegl1 libgles2
# libgbm1 libdrm2 libegl1 libgles2: what the SDL in pygame-ce loads to draw on the screen by KMS/DRM

install_groups_and_user
install_udev_rule
install_source_and_venv
install_config "$FIRMWARE/edgepose.example.toml"
install_models
install_service ""
check_device
printf 'done: %d steps. Reboot once if the boot config changed.\n' "$STEP"
