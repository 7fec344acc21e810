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
echo "== redocly lint (the API document as served)" >&2
doc_dir=$(mktemp -d)
node_modules/.bin/bun scripts/openapi.ts "$doc_dir/openapi.json" || exit 1
# redocly.yaml turns telemetry off; the variables keep it quiet offline too.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly lint --config redocly.yaml "$doc_dir/openapi.json" --format=summary || exit 1
rm -rf "$doc_dir"
echo "== bun test" >&2
# An explicit per-test timeout: bunfig.toml's is not applied in a clean clone, and the default 5 s is
# too short for the property tests on a busy 2-core machine.
exec node_modules/.bin/bun test --timeout 120000 "$@"
