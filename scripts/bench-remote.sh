#!/usr/bin/env bash
# The remote rows of `codey bench`: the coder over every file of fixtures/bench in-process, then
# on llama-server with 1, 2 and 4 slots (each file in flight on its own slot), on this machine
# and the same model. Builds llama-server first if needed (scripts/llama-server.sh), starts the
# three servers on 127.0.0.1, stops them when done. Figures go to stdout as Markdown (or JSON
# with --json); extra arguments go to `codey bench`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --quiet >&2
scripts/llama-server.sh build >/dev/null

model_dir=${CODEY_MODEL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/codey/models}
model=$model_dir/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
ports=()
stop_all() {
  local p
  for p in "${ports[@]}"; do scripts/llama-server.sh stop --port "$p"; done
}
trap stop_all EXIT
urls=()
port=${CODEY_BENCH_PORT:-18480}
for slots in 1 2 4; do
  ports+=("$port")
  urls+=("$(scripts/llama-server.sh start --model "$model" --port "$port" --slots "$slots")")
  port=$((port + 1))
done
target/release/codey bench --remote "$(IFS=,; echo "${urls[*]}")" "$@"
