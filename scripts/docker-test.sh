#!/usr/bin/env bash
# The Docker image and docker-compose.yml, built and run on a real engine:
#   - the image builds from the Dockerfile (with the registry and CA of this machine passed as
#     the optional build argument and secret), and is what it says: a non-root user, /data, 8080,
#     a HEALTHCHECK every 30 s or less, the six agent binaries, git and ssh for GitOps;
#   - a container on a port other than 8080 answers /health, turns `healthy` (so the
#     HEALTHCHECK follows CRONTOPUS_PORT), prints a setup link that opens, serves the login page,
#     takes `crontopus admin create-user` through docker exec, a job and a ping, serves the
#     install.sh one-liner whose agent runs here, keeps its data across `docker restart`, and
#     stops with exit 0;
#   - docker-compose.yml is valid, `up -d` starts it with the setup link in its logs, and its
#     named volume keeps the data across `down` and `up`.
# Without a reachable Docker daemon it starts a private one (root; no bridge, no iptables, so the
# host's network is left alone, and containers use the host's network), and without the
# debian:bookworm-slim image and a registry to pull it from, it builds that from Debian's mirror.
# Prints PASS/FAIL lines (scripts/lib/checks.sh); exit 1 when one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/checks.sh

IMAGE=crontopus:test
NAME=crontopus-test-$$
PROJECT=crontopus-test-$$
DOCKER_DIR=${CRONTOPUS_DOCKER_DIR:-/tmp/crontopus-dockerd}
WORK=$(mktemp -d)
daemon_pid=

give_up() {
  fail "$1"
  finish docker-test
  exit 1
}

if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null || ! command -v mmdebstrap >/dev/null; then
  bash scripts/system-deps.sh docker.io docker-compose mmdebstrap >/dev/null || give_up "installing docker.io, docker-compose and mmdebstrap"
fi
# Debian's docker client builds with BuildKit by itself; a newer client needs the buildx plugin for that.
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
docker() { "$DOCKER" "$@"; }
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi

cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1
  [ -f "$WORK/compose/docker-compose.yml" ] && "${COMPOSE[@]}" -p "$PROJECT" -f "$WORK/compose/docker-compose.yml" down -v >/dev/null 2>&1
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  export DOCKER_HOST=unix://$DOCKER_DIR/docker.sock
  if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || give_up "no Docker daemon reachable, and starting one needs root"
    mkdir -p "$DOCKER_DIR"
    dockerd --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" --host "$DOCKER_HOST" --pidfile "$DOCKER_DIR/pid" \
      --iptables=false --ip6tables=false --bridge=none >"$DOCKER_DIR/dockerd.log" 2>&1 &
    daemon_pid=$!
    until docker info >/dev/null 2>&1; do
      kill -0 "$daemon_pid" 2>/dev/null || give_up "dockerd did not start: $(tail -n 3 "$DOCKER_DIR/dockerd.log" | tr '\n' ' ')"
      sleep 0.5
    done
  fi
fi

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1 && ! timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
  echo "docker-test: no registry answers; building debian:bookworm-slim from Debian's mirror" >&2
  mmdebstrap --variant=minbase --include=ca-certificates bookworm "$WORK/base.tar" >/dev/null 2>&1 &&
    docker import "$WORK/base.tar" debian:bookworm-slim >/dev/null || give_up "building debian:bookworm-slim with mmdebstrap"
  rm -f "$WORK/base.tar"
fi

# ---- the image

commit=$(git rev-parse --short=12 HEAD)
build=(--network host --build-arg "NPM_CONFIG_REGISTRY=$(npm config get registry)" --build-arg "CRONTOPUS_COMMIT=$commit")
ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile)}
[ -f "$ca" ] && build+=(--secret "id=npm_ca,src=$ca")
started=$(date +%s.%N)
if DOCKER_BUILDKIT=1 docker build "${build[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
  pass "docker build ($(since "$started") s; image $(($(docker image inspect -f '{{.Size}}' "$IMAGE") / 1000000)) MB)"
else
  give_up "docker build: $(tail -n 5 "$WORK/build.log" | tr '\n' ' ')"
fi
check "the Dockerfile lints clean (dockerfile-utils)" npx --yes dockerfile-utils@0.16.3 lint Dockerfile

config=$(docker image inspect -f '{{json .Config}}' "$IMAGE")
expect_config() {
  [ "$(printf '%s' "$config" | json "$1")" = "$2" ] || { echo "$1 is $(printf '%s' "$config" | json "$1")"; return 1; }
}
check "runs as the user crontopus" expect_config User crontopus
check "/data is the volume" expect_config Volumes '{"/data":{}}'
check "exposes 8080" expect_config ExposedPorts '{"8080/tcp":{}}'
check "HEALTHCHECK runs crontopus health" expect_config Healthcheck.Test '["CMD","crontopus","health"]'
interval=$(printf '%s' "$config" | json Healthcheck.Interval)
check "HEALTHCHECK every 30 s or less ($((interval / 1000000000)) s)" test "$interval" -le 30000000000
expect_downloads() {
  local files
  files=$(docker run --rm --network none --entrypoint ls "$IMAGE" /opt/crontopus/downloads | tr '\n' ' ')
  [ "$files" = "crontopus-darwin-arm64 crontopus-darwin-x64 crontopus-linux-arm64 crontopus-linux-x64 crontopus-windows-arm64.exe crontopus-windows-x64.exe " ] || { echo "$files"; return 1; }
}
check "the six agent binaries are inside" expect_downloads
# GitOps needs git and ssh where the server runs: as the image's user, git commits and reads a repository back, and ssh starts.
expect_git_and_ssh() {
  local out
  out=$(docker run --rm --network none --entrypoint sh "$IMAGE" -c \
    'set -e; git --version; ssh -V 2>&1; git init -q /tmp/r; git -C /tmp/r -c user.name=c -c user.email=c@localhost commit -q --allow-empty -m x; git ls-remote /tmp/r HEAD' 2>&1) || { echo "$out"; return 1; }
  printf '%s\n' "$out" | grep -q '^git version' && printf '%s\n' "$out" | grep -q '^OpenSSH_' &&
    printf '%s\n' "$out" | grep -Eq '^[0-9a-f]{40}[[:space:]]+HEAD$' || { echo "$out"; return 1; }
}
check "git and ssh are installed for GitOps (git --version, ssh -V, git ls-remote as crontopus)" expect_git_and_ssh
check "crontopus version names the commit" sh -c '"$1" run --rm --network none "$2" version | grep -q "(commit $3,"' _ "$DOCKER" "$IMAGE" "$commit"

# ---- a container, on a port other than 8080

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
server_cli() { docker exec -i "$NAME" crontopus "$@"; }
started=$(date +%s.%N)
docker run -d --name "$NAME" --network host -e "CRONTOPUS_PORT=$PORT" -e "CRONTOPUS_BASE_URL=$BASE" "$IMAGE" >/dev/null
if wait_for "$BASE/health" 60; then
  pass "docker run: /health answers on CRONTOPUS_PORT=$PORT ($(since "$started") s)"
else
  fail "docker run: no /health: $(docker logs "$NAME" 2>&1 | tail -n 3 | tr '\n' ' ')"
fi
# expect_healthy SECONDS: until docker says healthy.
expect_healthy() {
  local until=$((SECONDS + $1)) status
  while [ "$SECONDS" -lt "$until" ]; do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$status" = healthy ] && return 0
    sleep 0.5
  done
  echo "still $status: $(docker inspect -f '{{json .State.Health.Log}}' "$NAME" | tail -c 300)"
  return 1
}
if out=$(expect_healthy 90); then
  pass "the container turns healthy, so the HEALTHCHECK follows CRONTOPUS_PORT ($(since "$started") s after docker run)"
else
  fail "the container did not turn healthy: $out"
fi
check "the setup link in docker logs opens" expect_setup_link "$(docker logs "$NAME" 2>/dev/null)"
check "the console's login page" expect_login_page
check "the server runs as a user other than root" sh -c '[ "$("$1" exec "$2" id -u)" != 0 ]' _ "$DOCKER" "$NAME"
check_user_job_and_ping
check_agent_one_liner "$WORK/agent"

started=$(date +%s.%N)
docker restart "$NAME" >/dev/null
if wait_for "$BASE/health" 60 && expect_runs 1 >/dev/null && expect_health; then
  pass "docker restart keeps the data: the token, the job and its run ($(since "$started") s)"
else
  fail "after docker restart: $(docker logs "$NAME" 2>&1 | tail -n 3 | tr '\n' ' ')"
fi

started=$(date +%s.%N)
docker stop "$NAME" >/dev/null
check "docker stop ends it with exit 0 ($(since "$started") s)" test "$(docker inspect -f '{{.State.ExitCode}}' "$NAME")" = 0
docker rm -f -v "$NAME" >/dev/null

# ---- docker-compose.yml

check "docker-compose.yml is valid" "${COMPOSE[@]}" -f docker-compose.yml config -q
# The same file on the host's network (compose 1.29 refuses network_mode: host beside ports:),
# with the image built above and a free port.
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK/compose"
IMAGE=$IMAGE PORT=$PORT ROOT=$ROOT node_modules/.bin/bun -e '
const file = Bun.YAML.parse(await Bun.file(`${process.env.ROOT}/docker-compose.yml`).text());
const service = file.services.crontopus;
delete service.ports;
service.network_mode = "host";
service.image = process.env.IMAGE;
service.build.context = process.env.ROOT;
service.environment = { ...service.environment, CRONTOPUS_PORT: process.env.PORT, CRONTOPUS_BASE_URL: `http://127.0.0.1:${process.env.PORT}` };
console.log(JSON.stringify(file, null, 2));' >"$WORK/compose/docker-compose.yml"
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$WORK/compose/docker-compose.yml" "$@"; }
server_cli() { compose exec -T crontopus crontopus "$@"; }

started=$(date +%s.%N)
compose up -d --no-build >"$WORK/compose.log" 2>&1
if wait_for "$BASE/health" 60; then
  pass "docker compose up -d: /health answers ($(since "$started") s)"
else
  fail "docker compose up -d: $(tail -n 3 "$WORK/compose.log" | tr '\n' ' ')"
fi
check "the setup link in docker compose logs opens" expect_setup_link "$(compose logs --no-color crontopus 2>/dev/null)"
check "admin create-user through docker compose exec" server_cli admin create-user --email alice@example.com --password 'correct horse' --tenant acme
compose down >/dev/null 2>&1
compose up -d --no-build >/dev/null 2>&1
expect_kept() {
  wait_for "$BASE/health" 60 || return 1
  # A server with a user prints no setup link.
  ! compose logs --no-color crontopus 2>/dev/null | grep -q 'setup?token=' || { echo "a setup link again"; return 1; }
  server_cli admin create-token --email alice@example.com --tenant acme --name kept | grep -q '^ctp_'
}
check "the named volume keeps the data across down and up" expect_kept

finish docker-test
