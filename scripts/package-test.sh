#!/usr/bin/env bash
# `npm install -g` on a machine with only Node and npm, for real: the package packed with
# `npm pack` and installed into a fresh prefix (with install scripts, and with --ignore-scripts),
# and the checkout installed with `npm install -g --install-links .`. Each `crontopus` then runs
# with a PATH that has node but no bun: version, and for the tarball `serve` in an empty
# directory (health, the login page, a user made beside it, a ping) and a SIGTERM passed on by
# the launcher. Prints PASS/FAIL lines (scripts/lib/checks.sh); exit 1 when one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/checks.sh

WORK=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

NODE_DIR=$(dirname "$(command -v node)")
# What a machine with Node and npm has on PATH; the unit suite's bun lives in node_modules/.bin only.
BASE_PATH=$NODE_DIR:/usr/local/bin:/usr/bin:/bin

# install NAME ARGS…: npm install -g ARGS into the prefix $WORK/NAME.
install() {
  local name=$1
  shift
  mkdir -p "$WORK/$name"
  PATH=$BASE_PATH npm install -g --prefix "$WORK/$name" --no-audit --no-fund --loglevel=error "$@"
}

# in_prefix NAME COMMAND…: runs COMMAND from an empty directory with only that prefix's bin, node and the system on PATH.
in_prefix() {
  local name=$1
  shift
  mkdir -p "$WORK/$name-cwd"
  (cd "$WORK/$name-cwd" && env -u CRONTOPUS_URL -u CRONTOPUS_TOKEN PATH="$WORK/$name/bin:$BASE_PATH" HOME="$WORK/$name-cwd" "$@")
}

check "no bun on the PATH the installs run with" env PATH="$BASE_PATH" sh -c '! command -v bun'

started=$(date +%s.%N)
if tarball=$(npm pack --pack-destination "$WORK" --silent 2>/dev/null) && [ -f "$WORK/$tarball" ]; then
  pass "npm pack ($(($(wc -c <"$WORK/$tarball") / 1000)) KB)"
else
  fail "npm pack"
fi

expect_version() {
  in_prefix "$1" crontopus version | grep -q '^crontopus [0-9.]* (commit .*, bun '
}

started=$(date +%s.%N)
check "npm install -g of the tarball" install tarball "$WORK/$tarball"
tarball_s=$(since "$started")
check "its crontopus runs without bun on PATH (install took $tarball_s s)" expect_version tarball

check "npm install -g --ignore-scripts of the tarball" install noscripts --ignore-scripts "$WORK/$tarball"
check "its crontopus runs too (Bun from the platform package, no postinstall)" expect_version noscripts

check "npm install -g --install-links . from the checkout" install checkout --install-links "$ROOT"
check "its crontopus runs without bun on PATH" expect_version checkout

# serve through the launcher, from an empty directory.
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
export CRONTOPUS_DATA_DIR=$WORK/data CRONTOPUS_PORT=$PORT CRONTOPUS_HOST=127.0.0.1 CRONTOPUS_BASE_URL=$BASE CRONTOPUS_LOG_LEVEL=warn
server_cli() { in_prefix tarball crontopus "$@"; }
mkdir -p "$WORK/serve-cwd"
(cd "$WORK/serve-cwd" && exec env PATH="$WORK/tarball/bin:$BASE_PATH" HOME="$WORK/serve-cwd" crontopus serve >"$WORK/serve.out" 2>"$WORK/serve.err") &
server_pid=$!
if wait_for "$BASE/health" 60; then pass "crontopus serve answers /health"; else fail "crontopus serve: $(tail -n 3 "$WORK/serve.err" | tr '\n' ' ')"; fi
check "the console's login page" expect_login_page
check "the setup link it printed opens" expect_setup_link "$(cat "$WORK/serve.out")"
check_user_job_and_ping

# SIGTERM to the launcher (as a supervisor that knows only its pid) reaches the server, which stops cleanly.
kill -TERM "$server_pid"
wait "$server_pid"
status=$?
server_pid=
if [ "$status" -eq 0 ] && ! curl -fsS -m 2 -o /dev/null "$BASE/health" 2>/dev/null; then
  pass "SIGTERM to the launcher stops the server, exit 0"
else
  fail "SIGTERM to the launcher: exit $status, log: $(tail -n 3 "$WORK/serve.err" | tr '\n' ' ')"
fi

finish package-test
