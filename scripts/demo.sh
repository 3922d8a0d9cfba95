#!/usr/bin/env bash
# The demo: sets up the machine, builds codey, copies fixtures/demo into a fresh git repository
# and runs one edit over it on the default models. The patch goes to stdout; everything else to
# stderr. Extra arguments are passed to `codey edit` (e.g. --format json).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

instruction="Make \`find_duplicates\` run in linear time with a set of seen names; add a docstring to \`print_report\`"

scripts/setup.sh
cargo build --release --quiet >&2

demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cp -R fixtures/demo/. "$demo"
(
  cd "$demo"
  git init -q -b main
  git add -A
  git -c user.name=codey -c user.email=codey@localhost commit -q -m "demo repository"
)
cd "$demo"
# The edit is emitted only if the demo's tests still pass with it (--verify): an edit that
# changes find_duplicates' behaviour is sent back with the test output, and left out if the
# model never gets it right.
verify="python3 -m unittest discover -s tests -q"
printf 'codey edit "%s" src --verify "%s"  (in a copy of fixtures/demo)\n' "$instruction" "$verify" >&2
status=0
"$top/target/release/codey" edit "$instruction" src --verify "$verify" "$@" || status=$?
if [[ $status -eq 2 ]]; then
  echo "demo: a file was left unchanged because no edit of it passed the demo's tests (see above)" >&2
  exit 0
fi
exit "$status"
