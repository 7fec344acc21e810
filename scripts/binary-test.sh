#!/usr/bin/env bash
# The single binary for this machine, as a user gets it: `bun run build <os>-<arch>`, then the
# binary alone in an empty directory with a PATH that has no Bun: `version`, `serve` (health,
# the setup link, the login page), the CLI beside it (a user, a token, a job, a ping and its run),
# and the console's install one-liner served by it, whose agent does `run --once --dry-run`.
# Prints PASS/FAIL lines (scripts/lib/checks.sh); exit 1 when one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/checks.sh

case $(uname -s) in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "binary-test: no build for $(uname -s)" >&2; exit 1 ;; esac
case $(uname -m) in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) echo "binary-test: no build for $(uname -m)" >&2; exit 1 ;; esac
platform=$os-$arch

started=$(date +%s.%N)
if ! out=$(node_modules/.bin/bun run build "$platform" 2>&1); then
  fail "bun run build $platform: $(printf '%s' "$out" | tail -n 4 | tr '\n' ' ')"
  finish binary-test
  exit 1
fi
printf '%s\n' "$out" | sed -n 's/^ *dist/  dist/p'
pass "bun run build $platform ($(since "$started") s, $(($(wc -c <"dist/crontopus-$platform") / 1000000)) MB)"

WORK=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The binary alone in an empty directory, with an environment that has no Bun and no checkout.
mkdir -p "$WORK/run" "$WORK/home"
cp "dist/crontopus-$platform" "$WORK/run/crontopus"
cd "$WORK/run"
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
# node stays for these checks' own JSON reading; the binary needs none of it.
export PATH=$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin HOME=$WORK/home CRONTOPUS_DATA_DIR=$WORK/run/data CRONTOPUS_PORT=$PORT \
  CRONTOPUS_HOST=127.0.0.1 CRONTOPUS_BASE_URL=$BASE CRONTOPUS_DOWNLOAD_DIR=$ROOT/dist CRONTOPUS_LOG_LEVEL=warn
unset CRONTOPUS_URL CRONTOPUS_TOKEN CRONTOPUS_CONFIG
check "no bun on PATH" sh -c '! command -v bun'
server_cli() { "$WORK/run/crontopus" "$@"; }

commit=$(git -C "$ROOT" rev-parse --short=12 HEAD)
check "crontopus version names the commit" sh -c './crontopus version | grep -q "^crontopus [0-9.]* (commit $1"' _ "$commit"

started=$(date +%s.%N)
./crontopus serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
server_pid=$!
if wait_for "$BASE/health" 30; then
  pass "serve from an empty directory answers /health ($(since "$started") s)"
else
  fail "serve did not answer /health: $(tail -n 3 "$WORK/serve.err" | tr '\n' ' ')"
fi
check "crontopus health" server_cli health
check "the setup link it printed opens" expect_setup_link "$(cat "$WORK/serve.out")"
check "the console's login page" expect_login_page
check_user_job_and_ping
check_agent_one_liner "$WORK/agent"

kill -TERM "$server_pid"
wait "$server_pid"
status=$?
server_pid=
if [ "$status" -eq 0 ] && ! grep -q . "$WORK/serve.err"; then
  pass "SIGTERM stops it with exit 0 and nothing logged at warn or above"
else
  fail "stop: exit $status, log: $(tail -n 3 "$WORK/serve.err" | tr '\n' ' ')"
fi

finish binary-test
