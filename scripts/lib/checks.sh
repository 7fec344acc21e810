# Shared by the slow checks that .ci/run runs after the unit suite (binary-test.sh,
# package-test.sh, docker-test.sh); sourced, not run. Each check prints one line,
# "PASS <what>" or "FAIL <what>: <why>", which .ci/run counts into its closing
# "N passed, N failed"; `finish` exits 1 when any check failed.
#
# The server checks drive a running Crontopus as a user would: its URL in $BASE, and the
# command that runs `crontopus` next to the server (on its data directory) in the function
# `server_cli`, defined by the script (./crontopus, or docker exec … crontopus).

CHECKS_PASSED=0
CHECKS_FAILED=0

pass() {
  printf 'PASS %s\n' "$*"
  CHECKS_PASSED=$((CHECKS_PASSED + 1))
}

fail() {
  printf 'FAIL %s\n' "$*"
  CHECKS_FAILED=$((CHECKS_FAILED + 1))
}

# check WHAT COMMAND…: PASS when COMMAND exits 0, else FAIL with the end of its output.
check() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$what"
  else
    fail "$what: $(printf '%s' "$out" | tail -n 4 | tr '\n' ' ')"
  fi
}

# finish NAME: one summary line; the exit status says whether every check passed.
finish() {
  local total=$((CHECKS_PASSED + CHECKS_FAILED))
  if [ "$CHECKS_FAILED" -eq 0 ]; then
    printf '%s: all %d checks passed\n' "$1" "$total"
  else
    printf '%s: %d of %d checks failed\n' "$1" "$CHECKS_FAILED" "$total"
  fi
  [ "$CHECKS_FAILED" -eq 0 ]
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# json PATH: reads JSON on stdin and prints the value at PATH (a.b.c; objects as JSON).
json() {
  node -e 'let v = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const k of process.argv[1].split(".")) v = v?.[k];
console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1"
}

# wait_for URL SECONDS: until URL answers 2xx.
wait_for() {
  local until=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$until" ]; do
    curl -fsS -o /dev/null -m 5 "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Prints the elapsed seconds since $1 (a `date +%s.%N`), to one decimal.
since() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# ---- checks of a running server

expect_health() {
  local body
  body=$(curl -fsS -m 5 "$BASE/health") || return 1
  [ "$(printf '%s' "$body" | json status)" = ok ] || { echo "$body"; return 1; }
}

# expect_setup_link OUTPUT: the one-time link serve printed opens the setup page.
expect_setup_link() {
  local link
  link=$(printf '%s\n' "$1" | grep -o 'http://[^ ]*/setup?token=[^ ]*' | head -n 1)
  [ -n "$link" ] || { echo "no setup link in: $1"; return 1; }
  curl -fsS -o /dev/null -m 5 "$link"
}

expect_login_page() {
  curl -fsS -m 5 "$BASE/login" | grep -q '<form'
}

MANIFEST='apiVersion: crontopus/v1
kind: Job
metadata: { name: db-backup, namespace: ops }
spec:
  schedule: "0 2 * * *"
  timezone: Europe/Berlin
  command: /opt/backup.sh
  agent: { selector: { role: web } }'

# The tour of README: a user on the data directory, a token, a job through the CLI, a ping
# with curl, the run read back. Sets TOKEN.
check_user_job_and_ping() {
  check "admin create-user on the server's data directory" server_cli admin create-user --email alice@example.com --password 'correct horse' --tenant acme
  TOKEN=$(server_cli admin create-token --email alice@example.com --tenant acme --name ci 2>&1)
  case $TOKEN in
    ctp_*) pass "admin create-token" ;;
    *) fail "admin create-token: $TOKEN" ;;
  esac
  check "jobs apply through the API (a job in Europe/Berlin)" apply_manifest
  local job ping_url
  job=$(server_cli jobs get ops/db-backup --json --server "$BASE" --token "$TOKEN" 2>&1)
  ping_url=$(printf '%s' "$job" | json ping_url 2>/dev/null)
  check "a ping with curl is answered 200" curl -fsS -m 10 -o /dev/null "$ping_url"
  check "the run is listed" expect_runs 1
}

apply_manifest() {
  printf '%s\n' "$MANIFEST" | server_cli jobs apply -f - --server "$BASE" --token "$TOKEN"
}

# expect_runs N: the job has N runs.
expect_runs() {
  local runs
  runs=$(server_cli runs list --job ops/db-backup --json --server "$BASE" --token "$TOKEN") || return 1
  [ "$(printf '%s' "$runs" | json runs.length)" = "$1" ] || { echo "$runs"; return 1; }
}

# The console's "Add an agent" one-liner on this host, into DIR (not as a service), then one
# dry pass of the agent it installed: the job's line is what it would add.
check_agent_one_liner() {
  local dir=$1 cte out
  cte=$(server_cli enroll-tokens create --name ci --label role=web --json --server "$BASE" --token "$TOKEN" | json token)
  check "install.sh downloads the agent, checks its SHA-256 and enrolls it" sh -c \
    'curl -fsSL "$1/install.sh" | CRONTOPUS_INSTALL_DIR="$2/bin" sh -s -- --token "$3" --name ci-host --no-service --config "$2/agent.json"' \
    _ "$BASE" "$dir" "$cte"
  out=$(CRONTOPUS_AGENT_STATE_DIR="$dir/state" "$dir/bin/crontopus" agent run --once --dry-run --config "$dir/agent.json" 2>&1)
  if [ $? -eq 0 ] && printf '%s' "$out" | grep -q "$dir/bin/crontopus exec --job .* /opt/backup.sh"; then
    pass "agent run --once --dry-run would add the job's line, calling the installed binary"
  else
    fail "agent run --once --dry-run: $(printf '%s' "$out" | tail -n 4 | tr '\n' ' ')"
  fi
}
