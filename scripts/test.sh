#!/usr/bin/env bash
# The test suite, from a fresh Debian machine: setup (packages, models), then every unit and
# integration test in release mode (the integration tests run real models, which are far too
# slow in a debug build of llama.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --release "$@"
