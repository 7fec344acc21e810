// One-line agent installers and the agent binaries they download, all without auth:
//
//   GET /install.sh            curl -fsSL <base>/install.sh | sh -s -- --token cte_… [--name N] [--label k=v]…
//   GET /install.ps1           iex "& { $(irm <base>/install.ps1) } -Token cte_… [-Name N] [-Label k=v,…]"
//   GET /download/<os>-<arch>  <downloadDir>/crontopus-<os>-<arch>[.exe], put there by the packaging
//   GET /download/<os>-<arch>.sha256   its SHA-256, which both scripts check the download against
//
// The scripts have the server's base URL baked in, so the agent is downloaded from, and
// enrolled with, the server the command was copied from. The enrollment token is the only
// secret, and it travels as an argument, never in these responses.
import { textResponse } from "../openapi";
import { Elysia } from "elysia";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { AppContext } from "../context";
import { errorResponse } from "../http";

/** The platforms an agent is built for: <os>-<arch>. */
export const AGENT_PLATFORM = /^(linux|darwin|windows)-(x64|arm64)$/;

export function installApi(ctx: AppContext) {
  return new Elysia()
    .get("/install.sh", () => script(installSh(ctx.config.baseUrl), "text/x-shellscript; charset=utf-8"), {
      detail: {
        tags: ["agents"],
        summary: "Agent installer for Linux and macOS (POSIX sh)",
        description: "Use as `curl -fsSL <base>/install.sh | sh -s -- --token cte_… [--name NAME] [--label KEY=VALUE]… [--no-service]`.",
        security: [],
        responses: textResponse(200, "The script", ["text/x-shellscript"]),
      },
    })
    .get("/install.ps1", () => script(installPs1(ctx.config.baseUrl), "text/plain; charset=utf-8"), {
      detail: {
        tags: ["agents"],
        summary: "Agent installer for Windows (PowerShell)",
        description: 'Use in an elevated PowerShell as `iex "& { $(irm <base>/install.ps1) } -Token cte_… [-Name NAME] [-Label KEY=VALUE,…]"`.',
        security: [],
        responses: textResponse(200, "The script", ["text/plain"]),
      },
    })
    .get("/download/:platform", ({ params }) => downloadAgent(ctx.config.downloadDir, params.platform), {
      detail: {
        tags: ["agents"],
        summary: "Download the agent binary for linux|darwin|windows - x64|arm64",
        description:
          "Serves `crontopus-<platform>` (`.exe` for Windows) from CRONTOPUS_DOWNLOAD_DIR; 404 when the packaging did not provide it. " +
          "`<platform>.sha256` (e.g. `linux-x64.sha256`) answers its SHA-256 as `sha256sum` prints it: `<64 hex digits>  crontopus-linux-x64`.",
        security: [],
        responses: textResponse(200, "The binary, or its SHA-256 sum", ["application/octet-stream", "text/plain"], { 404: { $ref: "#/components/responses/E404" } }),
      },
    });
}

function script(text: string, contentType: string): Response {
  // The base URL inside changes with CRONTOPUS_BASE_URL, so caches must ask again.
  return new Response(text, { headers: { "content-type": contentType, "cache-control": "no-cache" } });
}

async function downloadAgent(downloadDir: string, requested: string): Promise<Response> {
  const wantsSum = requested.endsWith(".sha256");
  const platform = wantsSum ? requested.slice(0, -".sha256".length) : requested;
  // Only the fixed set of names below is ever joined to the directory: no traversal.
  if (!AGENT_PLATFORM.test(platform)) {
    return errorResponse(400, "bad_request", `unknown platform "${platform}": expected linux, darwin or windows, then -x64 or -arm64 (e.g. linux-x64)`);
  }
  const windows = platform.startsWith("windows-");
  const name = `crontopus-${platform}${windows ? ".exe" : ""}`;
  const path = join(downloadDir, name);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    return errorResponse(404, "not_found", `no agent build for ${platform} on this server (the packaging puts them in CRONTOPUS_DOWNLOAD_DIR)`);
  }
  if (wantsSum) {
    const sum = await fileSha256(path, `${stat.size}:${stat.mtimeMs}`);
    return new Response(`${sum}  ${name}\n`, { headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache" } });
  }
  return new Response(Bun.file(path), {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename=${windows ? "crontopus.exe" : "crontopus"}`,
    },
  });
}

// Each build's sum, worked out on its first request (~0.1 s for 100 MB) and again when the file changes.
const sums = new Map<string, { version: string; sum: Promise<string> }>();

/** The SHA-256 of the file at `path` in hex; `version` (size and mtime) tells a file replaced in place. */
function fileSha256(path: string, version: string): Promise<string> {
  const known = sums.get(path);
  if (known?.version === version) return known.sum;
  const sum = (async () => {
    const hash = createHash("sha256");
    const reader = Bun.file(path).stream().getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) hash.update(read.value);
    return hash.digest("hex");
  })();
  sums.set(path, { version, sum });
  // A read that failed (the file went away mid-way) is not kept.
  sum.catch(() => sums.get(path)?.sum === sum && sums.delete(path));
  return sum;
}

/** `s` as one POSIX sh word: single-quoted, with each ' written as '\''. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `s` as a PowerShell single-quoted string; PowerShell also reads the curly quotes as quotes, so they are doubled too. */
export function psQuote(s: string): string {
  return `'${s.replace(/['\u2018\u2019\u201A\u201B]/g, "$&$&")}'`;
}

/** A word the shells read as it is (a base URL, an enrollment token), bare; anything else quoted. */
const PLAIN_WORD = /^[A-Za-z0-9_.,:/@%+=~-]+$/;

/**
 * The one-line install commands for an enrollment token, as the console shows them: the
 * arguments installSh and installPs1 read (--token, -Token), nothing else (the token's labels
 * reach the agent at enrollment).
 */
export function installCommands(baseUrl: string, token: string): { sh: string; ps1: string } {
  const sh = (s: string) => (PLAIN_WORD.test(s) ? s : shQuote(s));
  const ps = (s: string) => (PLAIN_WORD.test(s) ? s : psQuote(s));
  return {
    sh: `curl -fsSL ${sh(`${baseUrl}/install.sh`)} | sh -s -- --token ${sh(token)}`,
    ps1: `iex "& { $(irm ${ps(`${baseUrl}/install.ps1`)}) } -Token ${ps(token)}"`,
  };
}

// In the scripts below, "\${" and "\\" are JavaScript escapes for the "${" and "\" the shells see.

/** The POSIX sh installer for Linux and macOS. */
export function installSh(baseUrl: string): string {
  return `#!/bin/sh
# Crontopus agent installer for Linux and macOS, served by the Crontopus server:
#
#   curl -fsSL ${baseUrl}/install.sh | sh -s -- --token cte_... [--name NAME] [--label KEY=VALUE]...
#
# Downloads the agent from the server to \${CRONTOPUS_INSTALL_DIR:-/usr/local/bin}/crontopus,
# checks it against the server's SHA-256 sum, enrolls it with the token and installs it as a
# service (--no-service skips that). Any other option goes to \`crontopus agent enroll\` as it
# is. Run it as root (| sudo sh -s -- ...) for an agent that manages every user's crontab.
set -eu

SERVER=${shQuote(baseUrl)}

fail() {
  printf 'crontopus install: %s\\n' "$*" >&2
  exit 1
}

say() {
  printf 'crontopus install: %s\\n' "$*"
}

usage() {
  printf 'usage: curl -fsSL %s/install.sh | sh -s -- --token cte_... [--name NAME] [--label KEY=VALUE]... [--no-service]\\n' "$SERVER"
}

# Downloads $1 to the file $2, or fails naming the URL (and the server's message when curl can read it).
download() {
  if command -v curl >/dev/null 2>&1; then
    status=$(curl -sSL -o "$2" -w '%{http_code}' "$1") || fail "could not reach $1"
    if [ "$status" != 200 ]; then
      message=$(sed -n 's/.*"message":"\\([^"]*\\)".*/\\1/p' "$2" 2>/dev/null || true)
      fail "could not download the agent: $1 answered HTTP $status\${message:+: $message}"
    fi
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || fail "could not download the agent from $1 (is there a build for this system on the server?)"
  else
    fail "curl or wget is needed to download the agent"
  fi
}

# Prints the text at $1 (curl or wget is known to be there by then).
fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL "$1"
  else
    wget -q -O - "$1"
  fi
}

# Prints the SHA-256 of the file $1 in hex, with whichever tool this system has (none: fails).
file_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    out=$(sha256sum "$1") || return 1
  elif command -v shasum >/dev/null 2>&1; then
    out=$(shasum -a 256 "$1") || return 1
  elif command -v openssl >/dev/null 2>&1; then
    out=$(openssl dgst -sha256 -r "$1") || return 1
  else
    return 1
  fi
  printf '%s\n' "\${out%% *}"
}

# Everything happens in main, called on the last line: a script cut short in transit runs nothing.
main() {
  token=""
  service=yes
  # POSIX sh has no arrays: each argument is taken off the front of "$@", and the ones
  # meant for \`agent enroll\` are appended to the end, so they keep their spaces.
  n=$#
  while [ "$n" -gt 0 ]; do
    arg=$1
    shift
    n=$((n - 1))
    case $arg in
      --token)
        [ "$n" -gt 0 ] || fail "--token needs a value"
        token=$1
        shift
        n=$((n - 1))
        ;;
      --token=*) token=\${arg#--token=} ;;
      --no-service) service=no ;;
      -h | --help)
        usage
        return 0
        ;;
      *) set -- "$@" "$arg" ;;
    esac
  done
  if [ -z "$token" ]; then
    usage >&2
    fail "missing --token: copy the install command from the console's Agents page, which includes an enrollment token (cte_...)"
  fi

  case $(uname -s) in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) fail "unsupported system $(uname -s): agents run on Linux, macOS and Windows (use install.ps1 there)" ;;
  esac
  case $(uname -m) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "unsupported processor $(uname -m): agents are built for x86_64 and arm64" ;;
  esac

  dir=\${CRONTOPUS_INSTALL_DIR:-/usr/local/bin}
  bin="$dir/crontopus"
  url="$SERVER/download/$os-$arch"
  if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
    fail "cannot write to $dir: run as root (... | sudo sh -s -- ...) or set CRONTOPUS_INSTALL_DIR"
  fi

  # Download next to the target, then rename: nobody ever runs half a binary, and a
  # running agent keeps its old file until it restarts.
  tmp=$(mktemp "$dir/.crontopus.XXXXXX") || fail "cannot create a temporary file in $dir"
  trap 'rm -f "$tmp"' EXIT
  trap 'exit 1' HUP INT TERM
  say "downloading $url"
  download "$url" "$tmp"
  sum=$(fetch "$url.sha256") || fail "could not download the agent's checksum from $url.sha256"
  expected=\${sum%% *}
  case $expected in
    *[!0-9a-f]*) fail "$url.sha256 answered no SHA-256 sum" ;;
  esac
  [ \${#expected} -eq 64 ] || fail "$url.sha256 answered no SHA-256 sum"
  actual=$(file_sha256 "$tmp") || fail "could not check the download: sha256sum, shasum or openssl is needed"
  [ "$actual" = "$expected" ] || fail "the download from $url is damaged (SHA-256 $actual, the server's sum is $expected); nothing was installed"
  chmod 755 "$tmp"
  mv -f "$tmp" "$bin"
  say "installed $bin"

  "$bin" agent enroll --server "$SERVER" --token "$token" "$@" </dev/null ||
    fail "enrolling failed (see above); the agent is installed at $bin"
  if [ "$service" = yes ]; then
    "$bin" agent install </dev/null || fail "installing the service failed (see above); try: $bin agent install"
  else
    say "skipped the service (--no-service); start the agent with: $bin agent run"
  fi
}

main "$@"
`;
}

/** The PowerShell installer for Windows. */
export function installPs1(baseUrl: string): string {
  // Double-quoted PowerShell strings below write "$($name):" where a colon follows a
  // variable: "$name:" would be read as a drive-qualified name.
  return `# Crontopus agent installer for Windows, served by the Crontopus server. In an elevated
# PowerShell (Run as administrator):
#
#   iex "& { $(irm ${baseUrl}/install.ps1) } -Token cte_... [-Name NAME] [-Label KEY=VALUE,KEY=VALUE]"
#
# Downloads the agent from the server to $env:ProgramFiles\\Crontopus\\crontopus.exe, checks it
# against the server's SHA-256 sum, enrolls it with the token and installs it as a start-up task that runs as SYSTEM (-NoService
# skips that). Errors are thrown rather than exiting, so the console stays open.
param(
    [string]$Token,
    [string]$Name,
    [string[]]$Label = @(),
    [switch]$NoService
)

$ErrorActionPreference = 'Stop'
# Invoke-WebRequest is many times slower while it draws a progress bar.
$ProgressPreference = 'SilentlyContinue'
$Server = ${psQuote(baseUrl)}
$Task = '\\Crontopus\\Agent'

if (-not $Token) {
    throw 'missing -Token: copy the install command from the console''s Agents page, which includes an enrollment token (cte_...)'
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'run this in an elevated PowerShell (Run as administrator): the agent is installed for all users and runs as SYSTEM'
}

# A 32-bit PowerShell on 64-bit Windows sees x86 in PROCESSOR_ARCHITECTURE and the real one in PROCESSOR_ARCHITEW6432.
$arch = $env:PROCESSOR_ARCHITEW6432
if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
switch ($arch) {
    'AMD64' { $platform = 'windows-x64' }
    'ARM64' { $platform = 'windows-arm64' }
    default { throw "unsupported processor $($arch): agents are built for x64 and arm64" }
}

# Older Windows PowerShell offers only TLS 1.0 by default.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

$dir = Join-Path $env:ProgramFiles 'Crontopus'
$exe = Join-Path $dir 'crontopus.exe'
$url = "$Server/download/$platform"
New-Item -ItemType Directory -Force -Path $dir | Out-Null

$tmp = Join-Path $dir ('crontopus.' + [guid]::NewGuid().ToString('N') + '.download')
Write-Host "crontopus install: downloading $url"
try {
    Invoke-WebRequest -Uri $url -OutFile $tmp -UseBasicParsing
    $sum = (Invoke-WebRequest -Uri "$url.sha256" -UseBasicParsing).Content
} catch {
    Remove-Item -Force -ErrorAction SilentlyContinue $tmp
    throw "could not download the agent from $($url): $($_.Exception.Message)"
}
if ($sum -is [byte[]]) { $sum = [Text.Encoding]::ASCII.GetString($sum) }
$expected = ([string]$sum).Trim().Split(' ')[0].ToLowerInvariant()
$actual = (Get-FileHash -Algorithm SHA256 -Path $tmp).Hash.ToLowerInvariant()
if ($actual -ne $expected) {
    Remove-Item -Force -ErrorAction SilentlyContinue $tmp
    throw "the download from $url is damaged (SHA-256 $actual, the server's sum is $expected); nothing was installed"
}

# A running agent holds crontopus.exe open: stop its task (cmd does the redirection, so a
# "not running" message on stderr is no PowerShell error), move the old file aside
# (Windows lets a file in use be renamed) and the new one into place.
cmd.exe /c "schtasks.exe /End /TN $Task >nul 2>&1" | Out-Null
if (Test-Path $exe) {
    Move-Item -Force $exe ($exe + '.' + [guid]::NewGuid().ToString('N') + '.old')
}
Move-Item -Force $tmp $exe
Get-ChildItem -Path $dir -Filter 'crontopus.exe.*.old' | Remove-Item -Force -ErrorAction SilentlyContinue
Write-Host "crontopus install: installed $exe"

# So that \`crontopus\` works in consoles opened from now on.
$machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
if (-not (($machinePath -split ';') -contains $dir)) {
    [Environment]::SetEnvironmentVariable('Path', $machinePath.TrimEnd(';') + ';' + $dir, 'Machine')
}

$enroll = @('agent', 'enroll', '--server', $Server, '--token', $Token)
if ($Name) { $enroll += @('--name', $Name) }
foreach ($l in $Label) { $enroll += @('--label', $l) }
& $exe @enroll
if ($LASTEXITCODE -ne 0) { throw "enrolling failed (exit $LASTEXITCODE, see above); the agent is installed at $exe" }

if ($NoService) {
    Write-Host "crontopus install: skipped the service (-NoService); start the agent with: & '$exe' agent run"
} else {
    & $exe agent install
    if ($LASTEXITCODE -ne 0) { throw "installing the service failed (exit $LASTEXITCODE, see above); try: & '$exe' agent install" }
}
`;
}
