#!/usr/bin/env bash
# Prepares a fresh Debian machine to build and run codey: the C/C++ toolchain pieces that
# llama.cpp's build needs (cmake, libclang for bindgen), git, and the default models.
# Safe to run again: installed packages and verified models are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v make >/dev/null || missing+=(make)
command -v c++ >/dev/null || missing+=(g++)
command -v git >/dev/null || missing+=(git)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
# bindgen needs libclang and clang's own headers (stddef.h), which come with libclang-dev.
dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "ok installed" || missing+=(libclang-dev)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null; then
  log "cargo not found: install Rust (https://rustup.rs) and run this again"
  exit 1
fi

# The hook tests run the real pre-commit framework.
if ! python3 -m pre_commit --version >/dev/null 2>&1; then
  log "installing pre-commit (pip)"
  python3 -m pip install --quiet --disable-pip-version-check pre-commit >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages pre-commit >&2
fi

scripts/fetch-models.sh router coder algorithm
