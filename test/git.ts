// Real Git for the GitOps tests: bare repositories, working trees to commit in, the repository served
// over HTTP by `git http-backend` with a token (the https path) and a local sshd with one authorized key
// (the ssh path). Nothing here is a fake: the server under test talks to real git over real sockets.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { freePort, tempDir } from "./helpers";

/**
 * The environment every git process here runs with: no system or global configuration (the tests
 * must not depend on the machine's), no prompt for credentials, and a fixed identity.
 */
export const GIT_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  HOME: process.env.HOME ?? "/root",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_TERMINAL_PROMPT: "0",
  GIT_AUTHOR_NAME: "Alice Example",
  GIT_AUTHOR_EMAIL: "alice@example.com",
  GIT_COMMITTER_NAME: "Alice Example",
  GIT_COMMITTER_EMAIL: "alice@example.com",
};

export interface GitResult {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git and returns what it said, whatever its exit status. */
export function tryGit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): GitResult {
  const p = Bun.spawnSync(["git", ...args], {
    cwd: opts.cwd,
    env: { ...GIT_ENV, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { ok: p.exitCode === 0, code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/**
 * Runs git without blocking the event loop: needed whenever git talks to a server in this process
 * (gitHttpServer), which the synchronous tryGit would starve.
 */
export async function tryGitAsync(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<GitResult> {
  const p = Bun.spawn(["git", ...args], { cwd: opts.cwd, env: { ...GIT_ENV, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { ok: code === 0, code, stdout, stderr };
}

/** tryGitAsync that returns the trimmed output and throws with git's stderr when it fails. */
export async function gitAsync(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await tryGitAsync(args, opts);
  if (!r.ok) throw new Error(`git ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Runs git and returns its trimmed output; throws with its stderr when it fails. */
export function git(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = tryGit(args, opts);
  if (!r.ok) throw new Error(`git ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** A bare repository (branch `main` when the first push makes it) in a new temp dir; returns its path, ending in `.git`. */
export function bareRepo(name = "jobs"): string {
  const dir = join(tempDir("crontopus-git-"), `${name}.git`);
  git(["init", "--quiet", "--bare", "--initial-branch=main", dir]);
  return dir;
}

export interface WorkTree {
  dir: string;
  branch: string;
  write(path: string, content: string): void;
  rm(path: string): void;
  mv(from: string, to: string): void;
  /** Stages everything and commits; returns the new commit's sha. `author` is "Name <email>". */
  commit(message: string, opts?: { author?: string }): string;
  /** Pushes HEAD to the branch (default this tree's) of the origin. */
  push(opts?: { force?: boolean; branch?: string }): void;
  /** Replaces the branch with one commit of an empty tree, force-pushed (the "bad push" that must delete nothing); returns its sha. */
  forcePushEmpty(message?: string): string;
  head(): string;
  git(args: string[]): string;
}

/** A clone of `bare` to make commits in, on `branch` (default main; made from the remote's default branch when the remote has none). */
export function workTree(bare: string, opts: { branch?: string } = {}): WorkTree {
  const branch = opts.branch ?? "main";
  const dir = join(tempDir("crontopus-wt-"), "repo");
  git(["clone", "--quiet", bare, dir]);
  const inTree = (args: string[]) => git(args, { cwd: dir });
  const hasBranch = tryGit(["rev-parse", "--verify", "--quiet", `origin/${branch}`], { cwd: dir }).ok;
  // A branch the remote lacks starts from the remote's default branch, or from nothing in an empty repository.
  if (hasBranch) inTree(["checkout", "--quiet", "-B", branch, `origin/${branch}`]);
  else if (tryGit(["rev-parse", "--verify", "--quiet", "HEAD"], { cwd: dir }).ok) inTree(["checkout", "--quiet", "-B", branch]);
  else inTree(["checkout", "--quiet", "--orphan", branch]);
  const abs = (p: string) => join(dir, p);
  const tree: WorkTree = {
    dir,
    branch,
    write(path, content) {
      mkdirSync(dirname(abs(path)), { recursive: true });
      writeFileSync(abs(path), content);
    },
    rm(path) {
      rmSync(abs(path), { recursive: true });
    },
    mv(from, to) {
      mkdirSync(dirname(abs(to)), { recursive: true });
      renameSync(abs(from), abs(to));
    },
    commit(message, o = {}) {
      inTree(["add", "--all"]);
      inTree(["commit", "--quiet", "--allow-empty", "-m", message, ...(o.author ? [`--author=${o.author}`] : [])]);
      return tree.head();
    },
    push(o = {}) {
      inTree(["push", "--quiet", ...(o.force ? ["--force"] : []), "origin", `HEAD:refs/heads/${o.branch ?? branch}`]);
    },
    forcePushEmpty(message = "Remove everything") {
      const emptyTree = inTree(["hash-object", "-t", "tree", "-w", "/dev/null"]);
      const sha = inTree(["commit-tree", emptyTree, "-m", message]);
      inTree(["reset", "--quiet", "--hard", sha]);
      tree.push({ force: true });
      return sha;
    },
    head: () => inTree(["rev-parse", "HEAD"]),
    git: inTree,
  };
  return tree;
}

export interface GitHttpServer {
  /** The clone URL, e.g. http://127.0.0.1:PORT/jobs.git (https:// with `tls`) */
  url: string;
  /** With `tls`: the PEM file of the server's self-signed certificate, for git's http.sslCAInfo. */
  caFile: string | null;
  port: number;
  /** Every request the server got, in order, with the Authorization header it carried (or null). */
  requests: { method: string; path: string; authorization: string | null; status: number }[];
  stop(): void;
}

// Split a CGI answer into its header block and its body: headers end at the first empty line, which
// git http-backend writes as "\r\n\r\n" (other CGI programs may use bare "\n").
function parseCgi(out: Uint8Array<ArrayBuffer>): { status: number; headers: Headers; body: Uint8Array<ArrayBuffer> } {
  let end = -1;
  let skip = 0;
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i] === 10 && out[i + 1] === 10) {
      end = i;
      skip = 2;
      break;
    }
    if (out[i] === 13 && out[i + 1] === 10 && out[i + 2] === 13 && out[i + 3] === 10) {
      end = i;
      skip = 4;
      break;
    }
  }
  if (end < 0) return { status: 502, headers: new Headers(), body: out };
  const headers = new Headers();
  let status = 200;
  for (const line of new TextDecoder().decode(out.subarray(0, end)).split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
    else headers.append(name, value);
  }
  return { status, headers, body: out.subarray(end + skip) };
}

/**
 * Accepts what git sends with a token: `http.extraHeader=Authorization: Bearer <token>` sends the
 * bearer header on every request; a `https://x-access-token:<token>@host` URL (GitHub's form; GitLab
 * uses `oauth2:<token>`) sends nothing first, then Basic with the token as password after our 401
 * with `WWW-Authenticate: Basic`. Any user name is accepted, as the forges do for tokens.
 */
function authorized(header: string | null, token: string): boolean {
  if (!header) return false;
  const [scheme, value = ""] = header.split(/\s+/, 2);
  if (scheme.toLowerCase() === "bearer") return value === token;
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    return decoded.slice(decoded.indexOf(":") + 1) === token;
  }
  return false;
}

/**
 * A self-signed certificate for 127.0.0.1 (an EC P-256 key, valid two days), made by openssl: the
 * certificate (which is its own CA) and the key, as PEM files in a new temp dir.
 */
export function selfSignedCertificate(): { certFile: string; keyFile: string } {
  const dir = tempDir("crontopus-tls-");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const p = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (p.exitCode !== 0) throw new Error(`openssl req failed: ${p.stderr.toString().trim()}`);
  return { certFile, keyFile };
}

/**
 * Serves `bareDir` over HTTP on 127.0.0.1 with `git http-backend` (fetch and push), for callers holding
 * `token`; with `tls`, over https with a self-signed certificate (its file in `caFile`). The server
 * runs in this process: talk to it with gitAsync, never the synchronous git.
 * `before` runs before each authorized request is served, e.g. to push another commit right when a
 * client starts its push (`GET …/info/refs?service=git-receive-pack`): a real race, on cue.
 */
export function gitHttpServer(bareDir: string, opts: { token: string; tls?: boolean; before?: (req: { method: string; path: string }) => void | Promise<void> }): GitHttpServer {
  const cert = opts.tls ? selfSignedCertificate() : null;
  const root = dirname(bareDir);
  const name = basename(bareDir);
  const requests: GitHttpServer["requests"] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...(cert ? { tls: { cert: readFileSync(cert.certFile, "utf8"), key: readFileSync(cert.keyFile, "utf8") } } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      const authorization = req.headers.get("authorization");
      const log = (status: number) => requests.push({ method: req.method, path: url.pathname + url.search, authorization, status });
      if (!authorized(authorization, opts.token)) {
        log(401);
        return new Response("authentication required\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="crontopus-test"' } });
      }
      await opts.before?.({ method: req.method, path: url.pathname + url.search });
      const env: Record<string, string> = {
        PATH: GIT_ENV.PATH,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        // Set only after the token checked out: http-backend allows a push (receive-pack) only to an authenticated user.
        REMOTE_USER: "x-access-token",
        REMOTE_ADDR: "127.0.0.1",
        GATEWAY_INTERFACE: "CGI/1.1",
        SERVER_PROTOCOL: "HTTP/1.1",
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers.get("content-type") ?? "",
      };
      // The request headers as CGI variables: http-backend reads HTTP_CONTENT_ENCODING (git gzips large
      // requests) and HTTP_GIT_PROTOCOL (protocol v2) from them.
      req.headers.forEach((value, key) => {
        if (key === "authorization") return;
        env[`HTTP_${key.toUpperCase().replace(/-/g, "_")}`] = value;
      });
      const body = new Uint8Array(await req.arrayBuffer());
      if (body.length > 0) env.CONTENT_LENGTH = String(body.length);
      const proc = Bun.spawn(["git", "http-backend"], { env, stdin: body, stdout: "pipe", stderr: "pipe" });
      const [out, err] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
      if (err.trim()) console.error(`git http-backend: ${err.trim()}`);
      const res = parseCgi(out);
      log(res.status);
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  });
  return { url: `${cert ? "https" : "http"}://127.0.0.1:${server.port}/${name}`, caFile: cert?.certFile ?? null, port: server.port!, requests, stop: () => server.stop(true) };
}

/** Generates an ed25519 key pair with ssh-keygen (no passphrase); returns the private key's path and the public key line. */
export function sshKeyPair(comment = "crontopus-test"): { privateKeyPath: string; publicKey: string } {
  const path = join(tempDir("crontopus-key-"), "id_ed25519");
  const p = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`ssh-keygen failed: ${p.stderr.toString().trim()}`);
  return { privateKeyPath: path, publicKey: readFileSync(`${path}.pub`, "utf8").trim() };
}

/** The GIT_SSH_COMMAND for one key against one known_hosts file, with no fallback to the user's own keys or hosts. */
export function sshCommand(privateKeyPath: string, knownHostsPath: string): string {
  return [
    "ssh",
    "-F /dev/null",
    `-i ${privateKeyPath}`,
    "-o IdentitiesOnly=yes",
    "-o StrictHostKeyChecking=yes",
    `-o UserKnownHostsFile=${knownHostsPath}`,
    "-o GlobalKnownHostsFile=/dev/null",
    "-o BatchMode=yes",
  ].join(" ");
}

export const SSHD = "/usr/sbin/sshd";

/**
 * Why sshServer cannot run on this machine, or null when it can: the tests skip with this reason.
 * sshd as root needs its privilege separation directory (/run/sshd, made by systemd at boot, absent
 * in containers), which we make; as another user it logs in only that user and needs none.
 */
export function sshdUnavailable(): string | null {
  if (!existsSync(SSHD)) return `${SSHD} is missing: install Debian's openssh-server (scripts/system-deps.sh does)`;
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) {
    try {
      mkdirSync("/run/sshd", { mode: 0o755 });
    } catch (e) {
      return `sshd as root needs /run/sshd, which could not be made: ${(e as Error).message}`;
    }
  }
  return null;
}

export interface SshServer {
  port: number;
  user: string;
  /** The known_hosts line for this server's host key: `[127.0.0.1]:PORT ssh-ed25519 AAAA…` */
  hostKeyLine: string;
  /** `ssh://USER@127.0.0.1:PORT/abs/path/repo.git` */
  url(bareDir: string): string;
  /** What sshd wrote on stderr so far (its log, at VERBOSE). */
  log(): string;
  /** Makes `publicKey` the one key sshd accepts, from the next login on (sshd reads authorized_keys at each): a deploy key added on the forge. */
  authorize(publicKey: string): void;
  /** Stops sshd and starts it again on the same port with a new host key (hostKeyLine follows): a server whose key changed. */
  changeHostKey(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real sshd on a free port of 127.0.0.1, in the foreground, as the current user, with its own host key
 * and `authorizedKey` as the only key it accepts (until authorize()). Throws with sshd's log when it does not start.
 */
export async function sshServer(opts: { authorizedKey: string }): Promise<SshServer> {
  const reason = sshdUnavailable();
  if (reason) throw new Error(reason);
  const dir = tempDir("crontopus-sshd-");
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const makeHostKey = (): string => {
    rmSync(hostKey, { force: true });
    rmSync(`${hostKey}.pub`, { force: true });
    const k = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", hostKey], { stdout: "pipe", stderr: "pipe" });
    if (k.exitCode !== 0) throw new Error(`ssh-keygen failed: ${k.stderr.toString().trim()}`);
    return readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  };
  let hostKeyPublic = makeHostKey();
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, `${opts.authorizedKey.trim()}\n`);
  chmodSync(authorizedKeys, 0o600);
  // Not os.userInfo(): Bun 1.4.5 answers "unknown" for its username here (root in a container).
  const user = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();

  /** Starts sshd on `port`; resolves with it running, or with null when the port was taken. */
  const start = async (port: number): Promise<{ proc: ReturnType<typeof Bun.spawn>; log: () => string; reader: Promise<void> } | null> => {
    const config = join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        // Keys only: no PAM (no /etc/pam.d dependence), no passwords, no agent or port forwarding.
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        // The temp dir's modes are not sshd's business here.
        "StrictModes no",
        `AllowUsers ${user}`,
        "AllowAgentForwarding no",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    const proc = Bun.spawn([SSHD, "-D", "-e", "-f", config], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    let log = "";
    const reader = (async () => {
      const decoder = new TextDecoder();
      const stream = proc.stderr.getReader();
      for (let r = await stream.read(); !r.done; r = await stream.read()) log += decoder.decode(r.value, { stream: true });
    })();
    const end = Date.now() + 10_000;
    while (!log.includes("Server listening on") && proc.exitCode === null && Date.now() < end) await Bun.sleep(20);
    if (log.includes("Server listening on")) return { proc, log: () => log, reader };
    proc.kill();
    await proc.exited;
    await reader;
    if (!/Address already in use|Cannot bind/i.test(log)) throw new Error(`sshd did not start: ${log.trim()}`);
    return null;
  };

  // A free port can be taken between our probe and sshd's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    let running = await start(port);
    if (!running) continue;
    let earlier = "";
    const stopRunning = async () => {
      running!.proc.kill();
      await running!.proc.exited;
      await running!.reader;
      earlier += running!.log();
    };
    const server: SshServer = {
      port,
      user,
      hostKeyLine: `[127.0.0.1]:${port} ${hostKeyPublic}`,
      url: (bareDir) => `ssh://${user}@127.0.0.1:${port}${bareDir}`,
      log: () => earlier + running!.log(),
      authorize(publicKey) {
        writeFileSync(authorizedKeys, `${publicKey.trim()}\n`, { mode: 0o600 });
      },
      async changeHostKey() {
        await stopRunning();
        hostKeyPublic = makeHostKey();
        // sshd binds with SO_REUSEADDR: the port it just left is free again at once, unless another process took it.
        const again = await start(port);
        if (!again) throw new Error(`sshd could not bind port ${port} again`);
        running = again;
        server.hostKeyLine = `[127.0.0.1]:${port} ${hostKeyPublic}`;
      },
      async stop() {
        await stopRunning();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return server;
  }
  throw new Error("sshd did not start: no free port after 5 attempts");
}
