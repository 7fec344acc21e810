// The one place that runs `git`: a look at the remote's branch head (ls-remote), a shallow fetch of
// one branch into <data dir>/gitops/<tenant id> and a read of the manifest files of its head,
// safely, at the lowest CPU priority. What is enforced:
//  - GIT_ALLOW_PROTOCOL (https, ssh; file and http only with CRONTOPUS_ALLOW_PRIVATE_TARGETS), no terminal
//    prompt, no system or global config, no hooks, no submodules, no LFS, no redirects;
//  - the URL after `--` and refused when it starts with '-';
//  - the remote's host resolved and checked by the SSRF guard before each fetch or ls-remote, and
//    git made to connect to that checked address (http.curloptResolve; ssh HostName);
//  - a time limit per git process (60 s: killed after it);
//  - size limits on what is read after the fetch (MAX_FILES manifest files below the path, each at
//    most MAX_FILE_BYTES, MAX_TOTAL_BYTES in all): a tree over them fails the sync.
// An https token goes to git as an http.extraHeader through GIT_CONFIG_COUNT/KEY/VALUE in the
// environment: never in argv (which `ps` shows every user), never in the URL, never on disk, and
// masked in what a failure says. ssh runs with no ssh_config, in batch mode, with no agent and no
// forwarding, the deploy key only, and StrictHostKeyChecking=yes against the given known hosts
// (or accept-new on the first fetch, whose host key the caller pins); the key and the known hosts
// are 0600 files in a temp directory of their own, removed when the git process has ended.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveTarget } from "../net/guard";
import type { GitCredentials } from "./settings";
import { isPinned, knownHostsEntries, sshTarget } from "./sshkey";

export const GIT_TIMEOUT_MS = 60_000;
export const MAX_FILES = 10_000;
export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
const MANIFEST_RE = /\.(ya?ml|json)$/i;

/**
 * Whether a sync reads this file (a path from the repository root): a *.yaml, *.yml or *.json
 * file below `root` ("" is the root). The one rule for a fetched tree and a local one (plan --dir).
 */
export function isManifestPath(path: string, root: string): boolean {
  return MANIFEST_RE.test(path) && (root === "" || path === root || path.startsWith(root + "/"));
}

/**
 * Why a tree of manifest files (paths and sizes in bytes) is over the limits, or null: more than
 * MAX_FILES files, a file over MAX_FILE_BYTES, more than MAX_TOTAL_BYTES in all.
 */
export function treeLimitError(files: readonly { path: string; size: number }[], root: string): string | null {
  if (files.length > MAX_FILES) return `more than ${MAX_FILES} manifest files below ${root || "the root"}`;
  let total = 0;
  for (const f of files) {
    if (f.size > MAX_FILE_BYTES) return `${f.path} is ${f.size} bytes; files over ${MAX_FILE_BYTES} bytes are refused`;
    total += f.size;
  }
  if (total > MAX_TOTAL_BYTES) return `the manifest files below ${root || "the root"} exceed ${MAX_TOTAL_BYTES} bytes`;
  return null;
}

export class GitError extends Error {
  override name = "GitError";
}

export interface Remote {
  url: string;
  branch: string;
  /** Below the repository root; "" is the root. */
  path: string;
  credentials: GitCredentials;
  /** known_hosts text ssh requires the host's key to be in; null or empty: pinned on first use. */
  sshKnownHosts: string | null;
  allowPrivate: boolean;
  /** The CA bundle https remotes are checked against instead of the system's (CRONTOPUS_GITOPS_CA_BUNDLE). */
  caFile?: string | null;
  /** Called with the host keys ssh accepted when no known hosts were given: the caller stores them. */
  onHostKeyPinned?: (entries: string[]) => void;
}

export interface Head {
  commit: string;
  author: string;
  message: string;
}

export interface ManifestFile {
  /** From the repository root. */
  path: string;
  text: string;
  /** The blob's id. */
  sha: string;
}

interface RunResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * git runs at the lowest CPU priority (nice 19, the usual level for background work), so that
 * syncs (fetch, pack indexing, ssh) take what the check-ins leave of a busy machine rather than
 * delay them. nice execs git in its place.
 */
const NICE_BIN = Bun.which("nice");
const NICE = NICE_BIN ? [NICE_BIN, "-n", "19"] : [];

/** Runs git with the safe environment; kills it after the time limit. */
async function runGit(args: string[], env: Record<string, string>, opts: { cwd?: string; stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const argv = [
    ...NICE,
    "git",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "submodule.recurse=false",
    "-c", "fetch.recurseSubmodules=false",
    "-c", "protocol.file.allow=user",
    "-c", "http.followRedirects=false",
    "-c", "credential.helper=",
    "-c", "filter.lfs.smudge=",
    "-c", "filter.lfs.process=",
    "-c", "filter.lfs.clean=",
    "-c", "filter.lfs.required=false",
    ...args,
  ];
  const proc = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: opts.cwd ?? "/nonexistent",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "/bin/false",
      SSH_ASKPASS: "/bin/false",
      GIT_LFS_SKIP_SMUDGE: "1",
      GIT_PROTOCOL_FROM_USER: "0",
      LC_ALL: "C",
      ...env,
    },
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? GIT_TIMEOUT_MS);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
    if (timedOut) throw new GitError(`git ${args[0]} took longer than ${Math.round((opts.timeoutMs ?? GIT_TIMEOUT_MS) / 1000)} s and was stopped`);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function kindOf(url: string): "https" | "ssh" | "file" {
  // http:// passes the settings' check only with CRONTOPUS_ALLOW_PRIVATE_TARGETS=true.
  if (url.startsWith("https://") || url.startsWith("http://")) return "https";
  if (url.startsWith("ssh://") || (/^[^/]*:/.test(url) && !url.includes("://"))) return "ssh";
  return "file";
}

/** A single-quoted word for the shell git runs GIT_SSH_COMMAND with. */
const shellWord = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;

interface Connection {
  env: Record<string, string>;
  /** After the git process ended: reads what ssh pinned, removes the key and known_hosts files. */
  close(): void;
}

/** The env that connects git to the remote: protocols, pinned address, credentials. */
async function connectRemote(remote: Remote): Promise<Connection> {
  if (remote.url.startsWith("-")) throw new GitError("refused: a remote URL must not start with '-'");
  const kind = kindOf(remote.url);
  const env: Record<string, string> = { GIT_ALLOW_PROTOCOL: remote.allowPrivate ? "https:ssh:file:http" : "https:ssh" };
  const config: [string, string][] = [];
  let close = () => {};
  if (kind === "file" && !remote.allowPrivate) throw new GitError("refused: file:// remotes need CRONTOPUS_ALLOW_PRIVATE_TARGETS=true");
  if (kind === "https") {
    const u = new URL(remote.url);
    const [address] = await resolveTarget(u.hostname, { allowPrivate: remote.allowPrivate });
    const port = u.port || (u.protocol === "http:" ? "80" : "443");
    // Connect to the address the guard checked, so a name that changes its answer gains nothing.
    config.push(["http.curloptResolve", `${u.hostname.replace(/^\[|\]$/g, "")}:${port}:${address!.includes(":") ? `[${address}]` : address}`]);
    if (remote.caFile) config.push(["http.sslCAInfo", remote.caFile]);
    if (remote.credentials.token) {
      const basic = Buffer.from(`x-access-token:${remote.credentials.token}`).toString("base64");
      config.push(["http.extraHeader", `Authorization: Basic ${basic}`]);
    }
  } else if (kind === "ssh") {
    const target = sshTarget(remote.url);
    const [address] = await resolveTarget(target.host, { allowPrivate: remote.allowPrivate });
    // The deploy key and the known hosts live in a directory of their own (0700, files 0600), for
    // this one git process: removed by close() once it ended, whatever happened.
    let dir: string;
    try {
      dir = mkdtempSync(join(tmpdir(), "crontopus-ssh-"));
    } catch (e) {
      throw new GitError(`cannot make a temp directory for ssh's files in ${tmpdir()} (TMPDIR): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const knownHosts = join(dir, "known_hosts");
    const given = knownHostsEntries(remote.sshKnownHosts);
    close = () => rmSync(dir, { recursive: true, force: true });
    try {
      writeFileSync(knownHosts, given.length ? `${given.join("\n")}\n` : "", { mode: 0o600 });
      if (remote.credentials.ssh_key) {
        // ssh reads a key from a file only: written 0600 for this process, removed by close().
        writeFileSync(join(dir, "deploy_key"), remote.credentials.ssh_key.trim() + "\n", { mode: 0o600 });
        chmodSync(join(dir, "deploy_key"), 0o600);
      }
    } catch (e) {
      close();
      throw new GitError(`cannot write ssh's files in ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const ssh = [
      "ssh",
      // No ssh_config of the machine or of a user: every option is here.
      "-F", "/dev/null",
      "-o", "BatchMode=yes",
      "-o", "ConnectTimeout=20",
      "-o", "IdentitiesOnly=yes",
      "-o", "IdentityAgent=none",
      "-o", "ForwardAgent=no",
      "-o", "ForwardX11=no",
      "-o", "ClearAllForwardings=yes",
      "-o", "PermitLocalCommand=no",
      "-o", "PasswordAuthentication=no",
      "-o", "KbdInteractiveAuthentication=no",
      // Given known hosts are required; without them the first fetch accepts the host's key and
      // the caller pins it (onHostKeyPinned), so later fetches require it.
      "-o", `StrictHostKeyChecking=${given.length ? "yes" : "accept-new"}`,
      "-o", `UserKnownHostsFile=${knownHosts}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "UpdateHostKeys=no",
      "-o", "CheckHostIP=no",
      // The key is looked up under the remote's name (`[host]:port` off 22), while the connection
      // goes to the address the SSRF guard checked.
      "-o", `HostKeyAlias=${target.name}`,
      "-o", `HostName=${address}`,
    ];
    if (remote.credentials.ssh_key) ssh.push("-i", join(dir, "deploy_key"));
    else ssh.push("-o", "IdentityFile=none");
    env.GIT_SSH_COMMAND = ssh.map(shellWord).join(" ");
    env.GIT_SSH_VARIANT = "ssh";
    close = () => {
      try {
        if (!given.length && remote.onHostKeyPinned) {
          const learned = knownHostsEntries(readFileSync(knownHosts, "utf8"));
          if (learned.length) remote.onHostKeyPinned(learned);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
  }
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return { env, close };
}

/**
 * Fetches the head of the branch (depth 1) into `dir` (a bare repository, made on first use) and
 * returns its commit, author and message. Throws GitError with git's own words on failure.
 */
export async function fetchHead(dir: string, remote: Remote): Promise<Head> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, "HEAD"))) {
    const init = await runGit(["init", "--bare", "--quiet", dir], {});
    if (init.code !== 0) throw new GitError(`git init failed: ${init.stderr.trim()}`);
  }
  const conn = await connectRemote(remote);
  const ref = `refs/remotes/origin/${remote.branch}`;
  try {
    const fetch = await runGit(["fetch", "--quiet", "--depth=1", "--no-tags", "--no-recurse-submodules", "--force", "--", remote.url, `+refs/heads/${remote.branch}:${ref}`], conn.env, { cwd: dir });
    if (fetch.code !== 0) throw new GitError(explainFetchFailure(fetch.stderr, remote));
  } finally {
    conn.close();
  }
  const log = await runGit(["log", "-1", "--format=%H%x00%an <%ae>%x00%s", ref, "--"], {}, { cwd: dir });
  if (log.code !== 0) throw new GitError(`git log failed: ${cleanStderr(log.stderr)}`);
  const [commit, author, message] = new TextDecoder().decode(log.stdout).trim().split("\0");
  return { commit: commit!, author: author ?? "", message: message ?? "" };
}

/**
 * The commit at the head of the remote's branch, without fetching (git ls-remote: one round trip,
 * nothing written), or null when the remote has no such branch. A sync of an unchanged head stops
 * there. The same connection as a fetch: the SSRF check and pinned address, protocols,
 * credentials, host keys; a failure is explained as a fetch's is.
 */
export async function remoteHead(dir: string, remote: Remote): Promise<string | null> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const conn = await connectRemote(remote);
  const ref = `refs/heads/${remote.branch}`;
  try {
    const r = await runGit(["ls-remote", "--", remote.url, ref], conn.env, { cwd: dir });
    if (r.code !== 0) throw new GitError(explainFetchFailure(r.stderr, remote, "ls-remote"));
    // The pattern also matches refs that merely end in it (refs/heads/x/refs/heads/main): take the exact one.
    for (const line of new TextDecoder().decode(r.stdout).split("\n")) {
      const [sha, name] = line.split("\t");
      if (name === ref && /^[0-9a-f]{40,64}$/.test(sha ?? "")) return sha!;
    }
    return null;
  } finally {
    conn.close();
  }
}

/**
 * What a failed fetch (or ls-remote) tells the user: what went wrong in words that say what to do
 * for the failures people meet (a changed or unknown host key, a key or token refused), then git's
 * own last lines. Never a credential: the token is masked wherever git might echo it.
 */
export function explainFetchFailure(stderr: string, remote: Pick<Remote, "url" | "credentials" | "sshKnownHosts">, command = "fetch"): string {
  const words = cleanStderr(stderr, remote.credentials.token);
  const kind = kindOf(remote.url);
  let why = "";
  if (kind === "ssh") {
    const name = sshTarget(remote.url).name;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
      why = isPinned(remote.sshKnownHosts)
        ? `the ssh host key of ${name} is not the one pinned on first use: the sync was stopped and nothing changed. If the server's key was changed on purpose, check the new key and clear ssh_known_hosts (PUT with "ssh_known_hosts": null) or give the new one`
        : `the ssh host key of ${name} does not match ssh_known_hosts: the sync was stopped and nothing changed. If the server's key was changed on purpose, give its new key in ssh_known_hosts`;
    } else if (/No \S+ host key is known for|Host key verification failed/i.test(stderr)) {
      why = `no key of ssh_known_hosts matches the host key of ${name} (known_hosts lines for it start with ${name}): the sync was stopped`;
    } else if (/Permission denied \(publickey/i.test(stderr)) {
      why = remote.credentials.ssh_key
        ? `the ssh server refused the deploy key: add the settings' ssh_public_key to the repository's deploy keys`
        : `the ssh server wants a key and none is set: make one with POST /api/v1/gitops/deploy-key (crontopus gitops deploy-key) and add it to the repository's deploy keys`;
    }
  } else if (kind === "https" && /could not read Username|Authentication failed|HTTP 401|The requested URL returned error: 40[13]/i.test(stderr)) {
    why = remote.credentials.token ? "the remote refused the access token (HTTP 401/403): check the token and its access to the repository" : "the remote wants credentials and no token is set: give an access token in `token`";
  }
  return why ? `git ${command} failed: ${why} (git: ${words})` : `git ${command} failed: ${words}`;
}

function cleanStderr(s: string, token?: string): string {
  // Never echo a credential git might print back.
  let out = s.trim().replace(/Authorization: \S+ \S+/gi, "Authorization: ***");
  if (token) {
    for (const secret of [token, Buffer.from(`x-access-token:${token}`).toString("base64")]) out = out.split(secret).join("***");
  }
  // What git and ssh print around the cause (the host-key banner, askpass, advice) is left out.
  const noise = /^$|^@+$|^@ +WARNING|^IT IS POSSIBLE|^Someone could|^It is also possible|^The fingerprint|^SHA256:|^Please contact|^Add correct host key|^Offending|^Host key for|^remove with|^ssh-keygen -f|^Warning: Permanently added|unable to read askpass response|^Please make sure you have the correct access rights|^and the repository exists/;
  return out.split("\n").map((l) => l.trim()).filter((l) => !noise.test(l)).slice(-5).join("; ");
}

/**
 * The manifest files (*.yaml, *.yml, *.json) below `path` in `commit`; throws GitError for a
 * missing path and for a tree over the size limits (checked over every file, known or not).
 * `known` gives the text of a blob read before (by path and blob id): those are not read again,
 * and the rest are read in one `git cat-file --batch`.
 */
export async function readManifestFiles(dir: string, commit: string, path: string, known?: (path: string, sha: string) => string | undefined): Promise<ManifestFile[]> {
  const ls = await runGit(["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", ...(path ? [path] : [])], {}, { cwd: dir });
  if (ls.code !== 0) throw new GitError(`git ls-tree failed: ${cleanStderr(ls.stderr)}`);
  const entries: { sha: string; size: number; path: string }[] = [];
  let any = false;
  for (const rec of new TextDecoder().decode(ls.stdout).split("\0")) {
    if (!rec) continue;
    any = true;
    // <mode> SP <type> SP <sha> SP+ <size> TAB <path>
    const tab = rec.indexOf("\t");
    const [mode, type, sha, size] = rec.slice(0, tab).split(/\s+/);
    const p = rec.slice(tab + 1);
    if (type !== "blob" || mode === "120000" || !isManifestPath(p, path)) continue;
    entries.push({ sha: sha!, size: Number(size), path: p });
  }
  if (!any) throw new GitError(path ? `path ${path} does not exist in ${commit.slice(0, 12)}` : `the tree of ${commit.slice(0, 12)} is empty`);
  const over = treeLimitError(entries, path);
  if (over) throw new GitError(over);
  // In the tree's order, whichever way each text comes.
  const out: ManifestFile[] = new Array(entries.length);
  const unknown: number[] = [];
  entries.forEach((e, i) => {
    const text = known?.(e.path, e.sha);
    if (text === undefined) unknown.push(i);
    else out[i] = { path: e.path, text, sha: e.sha };
  });
  if (unknown.length === 0) return out;
  const cat = await runGit(["cat-file", "--batch"], {}, { cwd: dir, stdin: unknown.map((i) => entries[i]!.sha).join("\n") + "\n" });
  if (cat.code !== 0) throw new GitError(`git cat-file failed: ${cleanStderr(cat.stderr)}`);
  const buf = cat.stdout;
  const dec = new TextDecoder();
  let at = 0;
  for (const i of unknown) {
    const e = entries[i]!;
    const nl = buf.indexOf(10, at);
    const header = dec.decode(buf.subarray(at, nl));
    const size = Number(header.split(" ")[2]);
    out[i] = { path: e.path, text: dec.decode(buf.subarray(nl + 1, nl + 1 + size)), sha: e.sha };
    at = nl + 1 + size + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Write-back: one file changed in a commit on top of the fetched head, pushed to the branch.
// Built with plumbing in the same bare directory as the fetch (no working tree, no checkout):
// the blob, a tree from a temporary index, a commit. Pushed without force, so a branch that
// moved since the fetch rejects it.

export interface TreeFile {
  mode: string;
  /** The blob's id: equal ids, equal content. */
  sha: string;
  text: string;
}

/** The file at `path` in `commit` (from the repository root), or null when there is none. */
export async function fileAt(dir: string, commit: string, path: string): Promise<TreeFile | null> {
  const ls = await runGit(["ls-tree", "-z", "--full-tree", commit, "--", path], {}, { cwd: dir });
  if (ls.code !== 0) throw new GitError(`git ls-tree failed: ${cleanStderr(ls.stderr)}`);
  const rec = new TextDecoder().decode(ls.stdout).split("\0")[0];
  if (!rec) return null;
  const tab = rec.indexOf("\t");
  const [mode, type, sha] = rec.slice(0, tab).split(/\s+/);
  if (type !== "blob" || mode === "120000" || rec.slice(tab + 1) !== path) return null;
  const cat = await runGit(["cat-file", "blob", sha!], {}, { cwd: dir });
  if (cat.code !== 0) throw new GitError(`git cat-file failed: ${cleanStderr(cat.stderr)}`);
  return { mode: mode!, sha: sha!, text: new TextDecoder().decode(cat.stdout) };
}

export interface Ident {
  name: string;
  email: string;
}

export interface FileChange {
  parent: string;
  /** From the repository root. */
  path: string;
  /** The new content; null removes the file. */
  text: string | null;
  /** The file's mode (kept from the parent); default 100644. */
  mode?: string;
  author: Ident;
  committer: Ident;
  message: string;
  /** Epoch ms, for both dates. */
  time: number;
}

// What git would refuse or misread in an identity: angle brackets and line breaks.
const identPart = (s: string) => s.replace(/[<>\r\n\0]/g, "").trim();

/** Makes the commit of one file's change on top of `parent`; returns its id. */
export async function commitFile(dir: string, c: FileChange): Promise<string> {
  const index = join(dir, "write-back.index");
  rmSync(index, { force: true });
  const env = { GIT_INDEX_FILE: index };
  const must = async (args: string[], e: Record<string, string> = env, stdin?: string) => {
    const r = await runGit(args, e, { cwd: dir, stdin });
    if (r.code !== 0) throw new GitError(`git ${args[0]} failed: ${cleanStderr(r.stderr)}`);
    return new TextDecoder().decode(r.stdout).trim();
  };
  try {
    await must(["read-tree", c.parent]);
    // Mode 0 removes the path (--force-remove would want a working tree).
    if (c.text === null) await must(["update-index", "-z", "--index-info"], env, `0 ${"0".repeat(40)}\t${c.path}\0`);
    else {
      const blob = await must(["hash-object", "-w", "--stdin"], env, c.text);
      await must(["update-index", "--add", "--cacheinfo", `${c.mode ?? "100644"},${blob},${c.path}`]);
    }
    const tree = await must(["write-tree"]);
    const date = `@${Math.floor(c.time / 1000)} +0000`;
    const author = { name: identPart(c.author.name), email: identPart(c.author.email) };
    const committer = { name: identPart(c.committer.name), email: identPart(c.committer.email) };
    return await must(
      ["commit-tree", tree, "-p", c.parent, "-F", "-"],
      {
        GIT_AUTHOR_NAME: author.name || author.email,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_NAME: committer.name,
        GIT_COMMITTER_EMAIL: committer.email,
        GIT_COMMITTER_DATE: date,
      },
      c.message,
    );
  } finally {
    rmSync(index, { force: true });
  }
}

export type PushResult = { pushed: true } | { pushed: false; reason: string };

/**
 * Pushes `commit` to the remote's branch, never forced. Answers `pushed: false` when the branch
 * moved since the fetch (someone pushed first); throws GitError for any other failure (no rights,
 * a protected branch, the remote unreachable).
 */
export async function pushCommit(dir: string, remote: Remote, commit: string): Promise<PushResult> {
  const conn = await connectRemote(remote);
  let r: RunResult;
  try {
    r = await runGit(["push", "--porcelain", "--no-verify", "--", remote.url, `${commit}:refs/heads/${remote.branch}`], conn.env, { cwd: dir });
  } finally {
    // The deploy key and known hosts go with the process (and a host key seen first here is pinned).
    conn.close();
  }
  if (r.code === 0) {
    // The fetch ref follows, so what was fetched and what was pushed agree.
    await runGit(["update-ref", `refs/remotes/origin/${remote.branch}`, commit], {}, { cwd: dir });
    return { pushed: true };
  }
  const out = new TextDecoder().decode(r.stdout);
  // Porcelain: "!\t<src>:<dst>\t[rejected] (fetch first)" when the branch moved; "[remote rejected]" is the remote saying no.
  const line = out.split("\n").find((l) => l.startsWith("!"));
  if (line && /\[rejected\]/.test(line)) return { pushed: false, reason: line.split("\t").at(-1)!.trim() };
  const why = line ? line.split("\t").at(-1)!.trim() : cleanStderr(r.stderr);
  throw new GitError(`git push failed: ${why || cleanStderr(r.stderr)}`);
}
