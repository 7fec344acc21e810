// GitOps settings of a tenant: the remote, branch, path, interval, prune and write-back, and the
// credentials (sealed with the data directory's key file, never returned). Rules and SQL; every
// function takes the tenant id first. See docs/gitops.md.
import { isAbsolute } from "node:path";
import type { Db } from "../db";
import { Invalid, NotFound, type JobSource } from "../errors";
import { checkTargetHost } from "../net/guard";
import type { SecretBox } from "../secrets";
import { newId, randomSecret } from "../tokens";
import { parseDuration, formatDuration } from "../jobs/schedule";
import { badKnownHostsLine, isPinned, knownHostsEntries, makeDeployKey, pinnedKnownHosts, readPrivateKey, sshTarget } from "./sshkey";

export interface GitopsSettings {
  tenant_id: string;
  url: string;
  branch: string;
  path: string;
  interval_s: number;
  prune: boolean;
  write_back: boolean;
  has_token: boolean;
  has_ssh_key: boolean;
  ssh_known_hosts: string | null;
  ssh_public_key: string | null;
  webhook_id: string;
  created_at: number;
  updated_at: number;
}

/** What a fetch needs beyond the settings: the opened credentials. */
export interface GitCredentials {
  token?: string;
  ssh_key?: string;
}

export interface SettingsInput {
  url: string;
  branch?: string;
  path?: string;
  interval?: string | number;
  prune?: boolean;
  write_back?: boolean;
  token?: string | null;
  ssh_key?: string | null;
  ssh_known_hosts?: string | null;
}

export interface SettingsDeps {
  secrets: SecretBox;
  allowPrivateTargets: boolean;
}

interface Row {
  tenant_id: string;
  url: string;
  branch: string;
  path: string;
  interval_s: number;
  prune: number;
  write_back: number;
  credentials: string | null;
  ssh_known_hosts: string | null;
  ssh_public_key: string | null;
  webhook_id: string;
  webhook_secret: string;
  created_at: number;
  updated_at: number;
}

export const MIN_INTERVAL_S = 10;
export const DEFAULT_INTERVAL_S = 60;
const BRANCH_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]{1,200}$/;

function toSettings(r: Row, secrets: SecretBox): GitopsSettings {
  const creds = r.credentials ? openCredentials(secrets, r.credentials) : {};
  return {
    tenant_id: r.tenant_id,
    url: r.url,
    branch: r.branch,
    path: r.path,
    interval_s: r.interval_s,
    prune: r.prune === 1,
    write_back: r.write_back === 1,
    has_token: !!creds.token,
    has_ssh_key: !!creds.ssh_key,
    ssh_known_hosts: r.ssh_known_hosts,
    ssh_public_key: r.ssh_public_key,
    webhook_id: r.webhook_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

function openCredentials(secrets: SecretBox, sealed: string): GitCredentials {
  return JSON.parse(secrets.decrypt(sealed)) as GitCredentials;
}

function findRow(db: Db, tenantId: string): Row | null {
  return db.query<Row, [string]>("SELECT * FROM gitops_settings WHERE tenant_id = ?").get(tenantId);
}

export function findGitopsSettings(db: Db, secrets: SecretBox, tenantId: string): GitopsSettings | null {
  const r = findRow(db, tenantId);
  return r ? toSettings(r, secrets) : null;
}

export function getGitopsSettings(db: Db, secrets: SecretBox, tenantId: string): GitopsSettings {
  const s = findGitopsSettings(db, secrets, tenantId);
  if (!s) throw new NotFound("gitops settings (no repository connected)");
  return s;
}

/** The credentials, decrypted: for fetching, nothing else. */
export function readGitCredentials(db: Db, secrets: SecretBox, tenantId: string): GitCredentials {
  const r = findRow(db, tenantId);
  return r?.credentials ? openCredentials(secrets, r.credentials) : {};
}

/** The webhook secret, decrypted (owner/admin answers and the webhook's verification). */
export function readWebhookSecret(db: Db, secrets: SecretBox, tenantId: string): string {
  const r = findRow(db, tenantId);
  if (!r) throw new NotFound("gitops settings (no repository connected)");
  return secrets.decrypt(r.webhook_secret);
}

/** The tenant whose webhook URL carries this id, or null. */
export function findTenantByWebhookId(db: Db, webhookId: string): string | null {
  // cross-tenant: the webhook's URL alone names the tenant.
  return db.query<{ tenant_id: string }, [string]>("SELECT tenant_id FROM gitops_settings WHERE webhook_id = ?").get(webhookId)?.tenant_id ?? null;
}

/** The kind of remote a URL names; throws Invalid("url", …) for what may not be fetched. */
export function checkRemoteUrl(url: string, allowPrivate: boolean): "https" | "ssh" | "file" {
  if (typeof url !== "string" || url.trim() === "") throw new Invalid("url", "is required");
  if (url.length > 2048) throw new Invalid("url", "is longer than 2048 characters");
  // A URL that git could read as an option (--upload-pack=…) is refused outright.
  if (url.startsWith("-")) throw new Invalid("url", "must not start with '-'");
  if (/[\s\0]/.test(url)) throw new Invalid("url", "must not contain spaces or control characters");
  const local = url.startsWith("file://") || isAbsolute(url) || url.startsWith("./") || url.startsWith("../");
  if (local) {
    if (!allowPrivate) throw new Invalid("url", "file:// and local paths read the server's own disk; set CRONTOPUS_ALLOW_PRIVATE_TARGETS=true to allow them");
    return "file";
  }
  let host: string;
  let kind: "https" | "ssh";
  const scp = /^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/.exec(url);
  // Plain http sends the token in the clear: only where private targets are allowed (a lab, the tests).
  if (url.startsWith("http://") && !allowPrivate) throw new Invalid("url", "http:// sends the token in the clear; use https:// (http:// only with CRONTOPUS_ALLOW_PRIVATE_TARGETS=true)");
  if (url.startsWith("https://") || url.startsWith("http://") || url.startsWith("ssh://")) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Invalid("url", "is not a URL");
    }
    if (u.password) throw new Invalid("url", "must not carry a password; give an access token in `token`");
    if (u.protocol !== "ssh:" && u.username) throw new Invalid("url", "must not carry a user name; give an access token in `token`");
    host = u.hostname;
    kind = u.protocol === "ssh:" ? "ssh" : "https";
  } else if (scp && !url.includes("://")) {
    host = scp[2]!;
    kind = "ssh";
  } else {
    throw new Invalid("url", "must be an https:// or ssh remote (git@host:owner/repo.git or ssh://…)");
  }
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  const refused = checkTargetHost(bare, { allowPrivate });
  if (refused) throw new Invalid("url", refused);
  return kind;
}

function checkBranch(branch: string): string {
  if (!BRANCH_RE.test(branch) || branch.endsWith("/") || branch.endsWith(".lock")) throw new Invalid("branch", `is not a branch name: ${JSON.stringify(branch)}`);
  return branch;
}

/** A path below the repository root, without leading or trailing slashes; "" is the root. */
export function normalizeRepoPath(path: string): string {
  const p = path.replace(/^\.?\/+/, "").replace(/\/+$/, "");
  if (p === "." || p === "") return "";
  if (p.split("/").some((s) => s === ".." || s === "" || s === ".git") || /[\0\n\r]/.test(p) || p.length > 1000) {
    throw new Invalid("path", `must be a path inside the repository: ${JSON.stringify(path)}`);
  }
  return p;
}

function checkInterval(v: string | number | undefined): number {
  if (v === undefined) return DEFAULT_INTERVAL_S;
  const s = parseDuration("interval", v);
  if (s < MIN_INTERVAL_S) throw new Invalid("interval", `must be at least ${formatDuration(MIN_INTERVAL_S)}`);
  return s;
}

/**
 * PUT: connects the repository or replaces its settings. A credential left out keeps the stored
 * one; null removes it. The webhook id and secret survive a replace.
 */
export function putGitopsSettings(db: Db, deps: SettingsDeps, tenantId: string, input: SettingsInput, now: number): GitopsSettings {
  const kind = checkRemoteUrl(input.url, deps.allowPrivateTargets);
  const branch = checkBranch(input.branch ?? "main");
  const path = normalizeRepoPath(input.path ?? "");
  const interval = checkInterval(input.interval);
  if (input.token && kind !== "https") throw new Invalid("token", "is for https remotes; an ssh remote uses ssh_key");
  if (input.ssh_key && kind !== "ssh") throw new Invalid("ssh_key", "is for ssh remotes; an https remote uses token");
  if (input.token !== undefined && input.token !== null && (input.token.length > 4096 || /[\r\n\0]/.test(input.token))) throw new Invalid("token", "must be one line of at most 4096 characters");
  const key = input.ssh_key ? readPrivateKey(input.ssh_key) : null;
  if (input.ssh_key && !key) throw new Invalid("ssh_key", "must be a private key in OpenSSH or PEM form");
  if (key?.encrypted) throw new Invalid("ssh_key", "is protected by a passphrase, which nobody is there to type: give a key without one, or make one with POST /api/v1/gitops/deploy-key");
  const knownHosts = input.ssh_known_hosts ? checkKnownHosts(input.ssh_known_hosts) : input.ssh_known_hosts;
  return db.transaction(() => {
    const existing = findRow(db, tenantId);
    const creds: GitCredentials = existing?.credentials ? openCredentials(deps.secrets, existing.credentials) : {};
    if (input.token !== undefined) input.token === null || input.token === "" ? delete creds.token : (creds.token = input.token);
    // A key given here replaces a deploy key made by the server: the public key shown is its own.
    let publicKey = existing?.ssh_public_key ?? null;
    if (input.ssh_key !== undefined) {
      if (key) creds.ssh_key = key.privateKey;
      else delete creds.ssh_key;
      publicKey = key?.publicKey ?? null;
    }
    const sealed = Object.keys(creds).length ? deps.secrets.encrypt(JSON.stringify(creds)) : null;
    const params = {
      tenant: tenantId,
      url: input.url,
      branch,
      path,
      interval,
      prune: input.prune ? 1 : 0,
      write_back: input.write_back ? 1 : 0,
      credentials: sealed,
      known_hosts: knownHosts === undefined ? keptKnownHosts(existing, input.url) : knownHosts || null,
      public_key: publicKey,
      now,
    };
    if (existing) {
      db.query(
        `UPDATE gitops_settings SET url = $url, branch = $branch, path = $path, interval_s = $interval, prune = $prune,
           write_back = $write_back, credentials = $credentials, ssh_known_hosts = $known_hosts, ssh_public_key = $public_key,
           updated_at = $now
         WHERE tenant_id = $tenant`,
      ).run(params);
    } else {
      db.query(
        `INSERT INTO gitops_settings (tenant_id, url, branch, path, interval_s, prune, write_back, credentials, ssh_known_hosts,
           ssh_public_key, webhook_id, webhook_secret, created_at, updated_at)
         VALUES ($tenant, $url, $branch, $path, $interval, $prune, $write_back, $credentials, $known_hosts, $public_key,
           $webhook_id, $webhook_secret, $now, $now)`,
      ).run({ ...params, webhook_id: newId(), webhook_secret: deps.secrets.encrypt(randomSecret(24)) });
      db.query("INSERT OR IGNORE INTO gitops_status (tenant_id) VALUES (?)").run(tenantId);
    }
    return getGitopsSettings(db, deps.secrets, tenantId);
  })();
}

const MAX_KNOWN_HOSTS = 64 * 1024;

function checkKnownHosts(text: string): string {
  if (text.length > MAX_KNOWN_HOSTS) throw new Invalid("ssh_known_hosts", `is longer than ${MAX_KNOWN_HOSTS} characters`);
  const bad = badKnownHostsLine(text);
  if (bad) throw new Invalid("ssh_known_hosts", `line ${bad} is not a known_hosts line (host key-type base64-key, as ssh-keyscan prints it)`);
  if (knownHostsEntries(text).length === 0) throw new Invalid("ssh_known_hosts", "has no host key (null pins the host's key on the first fetch)");
  return text.trim() + "\n";
}

/**
 * The known hosts a PUT that leaves them out keeps: all of them, except host keys pinned on first
 * use for a host the new URL no longer names (the new host's key is pinned on its first fetch).
 */
function keptKnownHosts(existing: Row | null, url: string): string | null {
  const stored = existing?.ssh_known_hosts ?? null;
  if (!existing || !isPinned(stored)) return stored;
  const name = (u: string) => (checkRemoteUrl(u, true) === "ssh" ? sshTarget(u).name : null);
  return name(url) !== null && name(url) === name(existing.url) ? stored : null;
}

/**
 * POST /deploy-key: makes an ed25519 key pair, seals its private key as the ssh credential
 * (replacing any key before it) and keeps its public key in the settings, which show it from then
 * on. Returns the public key line, to add to the repository's deploy keys.
 */
export function makeGitopsDeployKey(db: Db, secrets: SecretBox, tenantId: string, now: number): string {
  return db.transaction(() => {
    const r = findRow(db, tenantId);
    if (!r) throw new NotFound("gitops settings (no repository connected)");
    if (checkRemoteUrl(r.url, true) !== "ssh") throw new Invalid("url", "is not an ssh remote: a deploy key is for ssh remotes (git@host:owner/repo.git or ssh://…); an https remote uses token");
    const slug = db.query<{ slug: string }, [string]>("SELECT slug FROM tenants WHERE id = ?").get(tenantId)?.slug ?? tenantId;
    const key = makeDeployKey(`crontopus@${slug}`);
    const creds: GitCredentials = r.credentials ? openCredentials(secrets, r.credentials) : {};
    creds.ssh_key = key.privateKey;
    db.query("UPDATE gitops_settings SET credentials = ?1, ssh_public_key = ?2, updated_at = ?3 WHERE tenant_id = ?4").run(secrets.encrypt(JSON.stringify(creds)), key.publicKey, now, tenantId);
    return key.publicKey;
  })();
}

/**
 * Stores the host keys the first fetch from `url` accepted, unless known hosts were given (or
 * pinned) meanwhile or the URL changed: later fetches require them.
 */
export function pinGitopsHostKeys(db: Db, tenantId: string, url: string, entries: string[], now: number): boolean {
  const text = pinnedKnownHosts(entries, new Date(now).toISOString());
  const res = db.query("UPDATE gitops_settings SET ssh_known_hosts = ?1 WHERE tenant_id = ?2 AND url = ?3 AND ssh_known_hosts IS NULL").run(text, tenantId, url);
  return res.changes > 0;
}

/** A new webhook secret; the old one stops verifying at once. */
export function rotateWebhookSecret(db: Db, secrets: SecretBox, tenantId: string, now: number): string {
  const secret = randomSecret(24);
  const res = db.query("UPDATE gitops_settings SET webhook_secret = ?1, updated_at = ?2 WHERE tenant_id = ?3").run(secrets.encrypt(secret), now, tenantId);
  if (res.changes === 0) throw new NotFound("gitops settings (no repository connected)");
  return secret;
}

/** DELETE: disconnects the repository. The jobs stay, as ordinary API-managed jobs. */
export function deleteGitopsSettings(db: Db, tenantId: string): void {
  db.transaction(() => {
    const res = db.query("DELETE FROM gitops_settings WHERE tenant_id = ?").run(tenantId);
    if (res.changes === 0) throw new NotFound("gitops settings (no repository connected)");
    db.query("DELETE FROM gitops_status WHERE tenant_id = ?").run(tenantId);
    db.query("UPDATE jobs SET source_repository = NULL, source_path = NULL, source_commit = NULL, source_paused = NULL WHERE tenant_id = ? AND source_repository IS NOT NULL").run(tenantId);
  })();
}

/** The settings as the API answers them: never a credential; the webhook secret only when given. */
export function settingsJson(s: GitopsSettings, baseUrl: string, webhookSecret?: string) {
  return {
    url: s.url,
    branch: s.branch,
    path: s.path,
    interval: formatDuration(s.interval_s),
    prune: s.prune,
    write_back: s.write_back,
    has_token: s.has_token,
    has_ssh_key: s.has_ssh_key,
    ssh_known_hosts: s.ssh_known_hosts,
    ssh_public_key: s.ssh_public_key,
    webhook_url: `${baseUrl}/api/v1/gitops/webhook/${s.webhook_id}`,
    ...(webhookSecret !== undefined ? { webhook_secret: webhookSecret } : {}),
    created_at: new Date(s.created_at).toISOString(),
    updated_at: new Date(s.updated_at).toISOString(),
  };
}

/**
 * How the spec of a job from Git may change outside a sync: through write-back (a commit pushed
 * by Crontopus) when the tenant's settings turn it on, else not at all (change the manifest in the
 * repository). Null for a job that is not from Git. Pause and resume stay allowed either way.
 */
export function gitManagement(db: Db, tenantId: string, job: { source: JobSource | null }): { source: JobSource; writeBack: boolean } | null {
  if (!job.source) return null;
  const row = db.query<{ write_back: number }, [string]>("SELECT write_back FROM gitops_settings WHERE tenant_id = ?").get(tenantId);
  return { source: job.source, writeBack: row?.write_back === 1 };
}

/** How many of the tenant's jobs come from Git (what a disconnect turns into ordinary jobs). */
export function countGitManagedJobs(db: Db, tenantId: string): number {
  return db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM jobs WHERE tenant_id = ? AND source_repository IS NOT NULL").get(tenantId)!.n;
}
