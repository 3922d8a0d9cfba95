#!/usr/bin/env bash
# Cross-builds codey for aarch64-unknown-linux-gnu on an x86-64 Debian machine and checks the
# result under user-mode emulation: the unit tests, then one real edit with the router and
# coder models, both run by qemu-aarch64.
#
# Not part of .ci/run: on 2 cores the cross build of llama.cpp alone takes longer than CI can
# spare, and every token under qemu is emulated. Run it by hand (README: "aarch64").
#
# What it takes care of:
# - Debian's cross toolchain (gcc/g++-aarch64-linux-gnu) and qemu-user, installed when missing;
#   the Rust target through rustup when rustup is there.
# - llama.cpp is cross-compiled by llama-cpp-sys-2's CMake build; the cmake and cc crates read
#   the per-target CC/CXX/AR variables below and set CMake's cross-compiling variables from them.
# - .cargo/config.toml builds with `-C target-cpu=native`, which names the *host's* CPU: for the
#   cross target RUSTFLAGS is set (empty), which takes precedence over build.rustflags, so
#   llama-cpp-sys-2 sees no target-cpu and builds ggml for the armv8-a baseline.
# - Its own target directory (target/aarch64), so the host build's lock and artifacts are
#   left alone.
#
# Usage: scripts/cross-aarch64.sh            (build time and results on stderr)
# Environment: CODEY_MODEL_DIR as for scripts/fetch-models.sh; NICE (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

log() { printf 'cross-aarch64: %s\n' "$*" >&2; }

target=aarch64-unknown-linux-gnu
target_dir=$top/target/aarch64
sysroot=/usr/aarch64-linux-gnu
nice_level=${NICE:-10}

install_packages() {
  local missing=()
  command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
  command -v file >/dev/null || missing+=(file)
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null; then
    log "missing ${missing[*]} and this is not Debian: install an aarch64 cross gcc/g++ and qemu-user"
    exit 1
  fi
  log "installing ${missing[*]}"
  local sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

scripts/setup.sh
install_packages
if command -v rustup >/dev/null; then
  rustup target add "$target" >&2
fi

export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"
# Empty, on purpose: see the header. With --target, RUSTFLAGS reaches only the target's
# crates, so build scripts still run natively.
export RUSTFLAGS=
cargo_cross=(nice -n "$nice_level" cargo --quiet)
common=(--release --target "$target" --target-dir "$target_dir")

start=$SECONDS
"${cargo_cross[@]}" build "${common[@]}" --bin codey
build_s=$((SECONDS - start))
log "build of codey for $target took ${build_s} s (llama.cpp included when cold)"

bin=$target_dir/$target/release/codey
kind=$(file -b "$bin")
log "binary: $kind"
[[ $kind == *"ARM aarch64"* ]] || { log "not an aarch64 executable: $bin"; exit 1; }

start=$SECONDS
"${cargo_cross[@]}" test "${common[@]}" --lib
log "unit tests under qemu-aarch64 took $((SECONDS - start)) s (build of the test binary included)"

# One real edit: a small Python file, a docstring instruction (the keyword table and the
# router send it to the coder), no escalation so only the router and coder load.
scripts/fetch-models.sh router coder
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo"
cat >"$work/repo/geometry.py" <<'PY'
def area(width, height):
    return width * height
PY
git -C "$work/repo" init -q -b main
git -C "$work/repo" add -A
git -C "$work/repo" -c user.name=codey -c user.email=codey@localhost commit -q -m base
start=$SECONDS
status=0
# shellcheck disable=SC2016 # the backticks are codey's, not the shell's
(cd "$work/repo" && qemu-aarch64 -L "$sysroot" "$bin" edit 'add a docstring to `area`' \
  --no-progress --no-kv-cache --no-escalate --rounds 1 >"$work/edit.patch") || status=$?
log "edit under qemu-aarch64 took $((SECONDS - start)) s, exit $status (timings under emulation say nothing about a real ARM CPU)"
cat "$work/edit.patch"
[[ $status -eq 0 && -s $work/edit.patch ]] || { log "the edit produced no patch"; exit 1; }
git -C "$work/repo" apply --check "$work/edit.patch"
log "ok: aarch64 binary, unit tests pass under qemu, the edit's patch applies"
