#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: setup (packages, models), then the model-free
# tests (unit tests and the real binary on real git repositories with scripted models), then
# the tests on the real default models (which also need a llama-server, built here once).
# Release mode throughout: the model tests are far too slow in a debug build of llama.cpp.
# Extra arguments go to both `cargo test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The scripted backend is compiled into the test build only (never into a release binary).
features=(--release --features scripted)
start=$SECONDS
cargo test "${features[@]}" --lib --bins --test cli "$@"
echo "test.sh: model-free tests took $((SECONDS - start)) s (build included)" >&2
# The real-model tests start their own llama-server (a real engine behind codey's remote-model
# client) through scripts/llama-server.sh, on free ports; the first build takes minutes.
start=$SECONDS
CODEY_LLAMA_SERVER=$(scripts/llama-server.sh build)
export CODEY_LLAMA_SERVER
echo "test.sh: llama-server ready in $((SECONDS - start)) s ($CODEY_LLAMA_SERVER)" >&2
start=$SECONDS
cargo test "${features[@]}" --test models "$@"
echo "test.sh: real-model tests took $((SECONDS - start)) s" >&2
