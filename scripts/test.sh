#!/usr/bin/env bash
# The whole test suite: system packages, type-check, XSS scan of the views, then bun test.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh || exit 1
echo "== tsc" >&2
node_modules/.bin/tsc -p . || exit 1
if compgen -G "views/*.tsx" >/dev/null || compgen -G "src/**/*.tsx" >/dev/null; then
  echo "== xss-scan" >&2
  node_modules/.bin/xss-scan || exit 1
fi
echo "== bun test" >&2
# An explicit per-test timeout: bunfig.toml's is not applied in a clean clone, and the default 5 s is
# too short for the property tests on a busy 2-core machine.
exec node_modules/.bin/bun test --timeout 120000 "$@"
