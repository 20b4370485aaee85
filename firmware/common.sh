# shellcheck shell=bash
# Helpers shared by firmware/rpi5/install.sh and firmware/jetson/install.sh (sourced, not run).
#
# Every step is idempotent: files are written only when their content differs, the boot-config
# block is replaced rather than appended twice, users and groups are created only when missing,
# and apt-get/pip/systemctl are no-ops the second time. Modes:
#   --dry-run   print every step and command, change nothing (output is the same on every run)
#   --root DIR  write the files under DIR (a staging tree) and skip the commands that change
#               the running system (apt-get, useradd, systemctl, ...); used by the tests

DRY_RUN=0
ROOT_DIR=""
SKIP_MODELS=0
STEP=0
PREFIX=/opt/edgepose
SERVICE_USER=edgepose

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# quote ARGS...: the command line as it could be pasted into a shell.
quote() {
  local a out=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then out+="$a "; else out+="$(printf '%q' "$a") "; fi
  done
  printf '%s' "${out% }"
}

step() { STEP=$((STEP + 1)); printf '==> [%d] %s\n' "$STEP" "$*"; }

# usage: the options every install script takes (parse_args prints it for --help).
usage() {
  cat <<USAGE
usage: sudo $SCRIPT_NAME [--dry-run] [--skip-models] [--root DIR]

  --dry-run      print each step and command without changing anything
  --skip-models  do not download the models (copy them into /var/lib/edgepose/models yourself)
  --root DIR     write the files under DIR and skip system commands (for testing)
USAGE
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --dry-run) DRY_RUN=1 ;;
      --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT_DIR=$(cd "$2" && pwd) || die "no directory $2"; shift ;;
      --skip-models) SKIP_MODELS=1 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option $1 (try --help)" ;;
    esac
    shift
  done
  if [[ $DRY_RUN == 0 && -z $ROOT_DIR && $(id -u) != 0 ]]; then
    die "run as root (sudo $0), or with --dry-run to see the steps"
  fi
}

# run CMD...: run a command that changes the system (printed in --dry-run, skipped with --root).
run() {
  if [[ $DRY_RUN == 1 ]]; then printf '+ %s\n' "$(quote "$@")"; return 0; fi
  if [[ -n $ROOT_DIR ]]; then printf '  skip (--root): %s\n' "$(quote "$@")"; return 0; fi
  "$@"
}

# run_unless CHECK... -- CMD...: run CMD unless CHECK succeeds.
run_unless() {
  local -a check=()
  while [[ $# -gt 0 && $1 != -- ]]; do check+=("$1"); shift; done
  [[ $# -gt 0 ]] || die "run_unless: missing --"
  shift
  if [[ $DRY_RUN == 1 ]]; then printf '+ %s  (unless: %s)\n' "$(quote "$@")" "$(quote "${check[@]}")"; return 0; fi
  if [[ -n $ROOT_DIR ]]; then printf '  skip (--root): %s\n' "$(quote "$@")"; return 0; fi
  if "${check[@]}" >/dev/null 2>&1; then printf '  already done: %s\n' "$(quote "${check[@]}")"; return 0; fi
  "$@"
}

# put_file MODE SRC DEST: install SRC as DEST unless DEST already has the same content.
put_file() {
  local mode=$1 src=$2 dest=$ROOT_DIR$3
  [[ -f $src ]] || die "missing $src"
  if [[ $DRY_RUN == 1 ]]; then printf '+ install -D -m %s %s %s  (unless identical)\n' "$mode" "$src" "$3"; return 0; fi
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then printf '  unchanged: %s\n' "$3"; return 0; fi
  install -D -m "$mode" "$src" "$dest"
  printf '  installed: %s\n' "$3"
}

# put_file_once MODE SRC DEST: install SRC as DEST only if DEST does not exist (site config).
put_file_once() {
  local mode=$1 src=$2 dest=$ROOT_DIR$3
  [[ -f $src ]] || die "missing $src"
  if [[ $DRY_RUN == 1 ]]; then printf '+ install -D -m %s %s %s  (unless it exists)\n' "$mode" "$src" "$3"; return 0; fi
  if [[ -e $dest ]]; then printf '  kept existing: %s\n' "$3"; return 0; fi
  install -D -m "$mode" "$src" "$dest"
  printf '  installed: %s\n' "$3"
}

# put_block FRAGMENT DEST: make DEST end with FRAGMENT, replacing an earlier
# "# BEGIN edgepose" ... "# END edgepose" block instead of adding a second one.
put_block() {
  local frag=$1 dest=$ROOT_DIR$2 tmp
  [[ -f $frag ]] || die "missing $frag"
  if [[ $DRY_RUN == 1 ]]; then printf '+ replace the edgepose block of %s with %s\n' "$2" "$frag"; return 0; fi
  [[ -f $dest ]] || die "$2 does not exist: is this the right board and OS?"
  tmp=$(mktemp)
  sed '/^# BEGIN edgepose$/,/^# END edgepose$/d' "$dest" > "$tmp"
  if [[ -s $tmp && $(tail -c 1 "$tmp" | od -An -c | tr -d ' ') != '\n' ]]; then printf '\n' >> "$tmp"; fi
  cat "$frag" >> "$tmp"
  if cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    printf '  unchanged: %s\n' "$2"
    return 0
  fi
  [[ -e $dest.edgepose-orig ]] || cp -p "$dest" "$dest.edgepose-orig"
  cat "$tmp" > "$dest"
  rm -f "$tmp"
  printf '  updated: %s (original kept as %s.edgepose-orig; reboot to apply)\n' "$2" "$2"
}

have_group() { getent group "$1"; }
have_user() { id -u "$1"; }
have_file() { test -e "$1"; }

# Steps both boards share ---------------------------------------------------------------------

install_groups_and_user() {
  step "groups and the service user '$SERVICE_USER'"
  local g
  for g in video render audio gpio i2c; do
    run_unless have_group "$g" -- groupadd --system "$g"
  done
  run_unless have_user "$SERVICE_USER" -- useradd --system --user-group --home-dir /var/lib/edgepose \
    --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  # video + render: the live window draws on the HDMI/DSI screen through /dev/dri (SDL KMS/DRM)
  run usermod --append --groups video,render,audio,gpio,i2c "$SERVICE_USER"
}

install_udev_rule() {
  step "udev rule: gpio and i2c groups may open /dev/gpiochip* and /dev/i2c-*"
  put_file 0644 "$FIRMWARE/udev/60-edgepose.rules" /etc/udev/rules.d/60-edgepose.rules
  run udevadm control --reload-rules
  run udevadm trigger --subsystem-match=gpio --subsystem-match=i2c-dev
}

install_source_and_venv() {
  step "source tree in $PREFIX/src and a venv with system site packages in $PREFIX/venv"
  run install -d -m 0755 "$PREFIX"
  run rsync -a --delete --exclude .git --exclude .venv --exclude '*.tflite' --exclude __pycache__ \
    --exclude '*.egg-info' --exclude build "$SRC/" "$PREFIX/src/"
  # --system-site-packages: picamera2, libcamera, lgpio (and on Jetson OpenCV with GStreamer)
  # come from the distribution, built for this board.
  run_unless have_file "$PREFIX/venv/bin/python" -- python3 -m venv --system-site-packages "$PREFIX/venv"
  step "install edgepose into the venv"
  run "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
  run "$PREFIX/venv/bin/pip" install --quiet "$PREFIX/src" "luma.oled"
}

install_config() {
  step "configuration /etc/edgepose/edgepose.toml (kept if it exists)"
  put_file_once 0644 "$1" /etc/edgepose/edgepose.toml
}

install_models() {
  step "models in /var/lib/edgepose/models (downloaded once, sha256-checked)"
  run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" /var/lib/edgepose /var/lib/edgepose/models
  if [[ $SKIP_MODELS == 1 ]]; then printf '  skipped (--skip-models)\n'; return 0; fi
  run env EDGEPOSE_MODELS=/var/lib/edgepose/models EDGEPOSE_MANIFEST="$PREFIX/src/models/manifest.toml" \
    "$PREFIX/venv/bin/edgepose" models fetch
  run chown -R "$SERVICE_USER:$SERVICE_USER" /var/lib/edgepose/models
}

install_service() {
  step "systemd unit edgepose.service"
  put_file 0644 "$SRC/systemd/edgepose.service" /etc/systemd/system/edgepose.service
  if [[ -n ${1:-} ]]; then
    put_file 0644 "$1" /etc/systemd/system/edgepose.service.d/board.conf
  fi
  run systemctl daemon-reload
  run systemctl enable mosquitto.service edgepose.service
  run systemctl restart mosquitto.service
  run systemctl restart edgepose.service
}

check_device() {
  step "check the device"
  run "$PREFIX/venv/bin/edgepose" doctor --config /etc/edgepose/edgepose.toml
}
