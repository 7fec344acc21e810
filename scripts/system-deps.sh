#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, when they are missing:
# cron (the real crontab), git, chromium (console tests), wrk (benchmarks), python3-aiosmtpd (SMTP receiver),
# strace (proves the OpenAPI lint sends nothing over the network), openssh-server (a real sshd for GitOps ssh remotes),
# openssl (the self-signed certificate of the GitOps https test server). With arguments, those packages instead
# (scripts/docker-test.sh asks for the Docker engine).
set -euo pipefail
PKGS=(cron git chromium wrk python3-aiosmtpd strace openssh-server openssl)
[ $# -gt 0 ] && PKGS=("$@")
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 0
fi
echo "installing ${missing[*]}" >&2
for i in 1 2 3; do
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then exit 0; fi
  echo "apt-get failed (attempt $i); retrying" >&2
  sleep 5
done
exit 1
