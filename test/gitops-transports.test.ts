// GitOps over the network, as it runs for real: `crontopus serve` as a process of its own fetches
// from git http-backend over https with an access token (alice's acme), and from a local sshd with
// a deploy key the server made (ian's initech), the host key pinned on first use. The server's
// PATH starts with recorders of every git and ssh command line, and its TMPDIR is a directory of
// this test's: what a credential leaves behind (in ps, on disk, in the log) is looked at, not assumed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../src/db";
import { bareRepo, gitHttpServer, sshdUnavailable, sshKeyPair, sshServer, workTree, type GitHttpServer, type SshServer, type WorkTree } from "./git";
import { manifest } from "./gitops-repo";
import { persona, spawnServer, tempDir, type Persona } from "./helpers";

const TOKEN = "ghp_acmeRealToken0123456789abcdef";
const TOKEN_BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
const WRONG = "ghp_notTheToken9876543210fedcba";
const noSshd = sshdUnavailable();
if (noSshd) console.warn(`skipping the ssh tests: ${noSshd}`);

let dataDir: string, tmp: string, rec: string;
let db: Db;
let server: Awaited<ReturnType<typeof spawnServer>>;
let serverLog = "";
let val: Persona, charlie: Persona;
let https: GitHttpServer;
/** One repository behind https for every https test: each tenant reads a directory of its own. */
let shared: WorkTree;
const sshds: SshServer[] = [];

/** A script that appends its command line (one argument a line, then a blank line) to `log` and runs the real program. */
function recorder(program: string, real: string, log: string, extra = ""): void {
  const file = join(rec, program);
  writeFileSync(file, `#!/bin/sh\n{ for a in "$@"; do printf '%s\\n' "$a"; done; echo; } >> ${log}\n${extra}exec ${real} "$@"\n`);
  chmodSync(file, 0o755);
}
// ssh also notes the mode of the key file it is given while it runs.
const KEY_MODE = `prev=; for a in "$@"; do [ "$prev" = -i ] && stat -c '%a %n' "$a" >> ${"$REC"}/key-modes; prev=$a; done\n`;

const argvLog = (program: "git" | "ssh") => {
  try {
    return readFileSync(join(rec, `${program}.argv`), "utf8");
  } catch {
    return "";
  }
};

beforeAll(async () => {
  dataDir = tempDir();
  tmp = tempDir("crontopus-tmpdir-");
  rec = tempDir("crontopus-rec-");
  recorder("git", Bun.which("git")!, join(rec, "git.argv"));
  recorder("ssh", Bun.which("ssh")!, join(rec, "ssh.argv"), KEY_MODE.replace("$REC", rec));

  const bare = bareRepo("jobs");
  shared = workTree(bare);
  shared.write("README.md", "# jobs of every tenant\n");
  shared.commit("Start");
  shared.push();
  https = gitHttpServer(bare, { token: TOKEN, tls: true });

  db = openDb(join(dataDir, "crontopus.db"));
  migrate(db);
  charlie = await persona(db, "charlie", "globex", "owner");

  server = await spawnServer(dataDir, {
    PATH: `${rec}:${process.env.PATH}`,
    TMPDIR: tmp,
    CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true",
    CRONTOPUS_GITOPS_CA_BUNDLE: https.caFile!,
    CRONTOPUS_LOG_LEVEL: "info",
    CRONTOPUS_LOG_FORMAT: "json",
  });
  void (async () => {
    const decoder = new TextDecoder();
    const stream = server.proc.stderr.getReader();
    for (let r = await stream.read(); !r.done; r = await stream.read()) serverLog += decoder.decode(r.value, { stream: true });
  })();
});

afterAll(async () => {
  for (const s of sshds) await s.stop();
  server?.proc.kill();
  await server?.proc.exited;
  https?.stop();
  db?.close();
  for (const d of [dataDir, tmp, rec]) if (d) rmSync(d, { recursive: true, force: true });
});

const call = async (who: Persona, path: string, init: { method?: string; json?: unknown } = {}) => {
  const headers: Record<string, string> = { authorization: `Bearer ${who.token}` };
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(server.url + path, { method: init.method ?? "GET", headers, body: init.json !== undefined ? JSON.stringify(init.json) : undefined });
  return { status: res.status, headers: res.headers, body: res.status === 204 ? null : await res.json() };
};
const sync = (who: Persona) => call(who, "/api/v1/gitops/sync", { method: "POST" });
const settings = async (who: Persona) => (await call(who, "/api/v1/gitops")).body;
const jobNames = async (who: Persona) => ((await call(who, "/api/v1/jobs")).body.jobs as { namespace: string; name: string }[]).map((j) => `${j.namespace}/${j.name}`).sort();
// A long interval: the periodic sync runs once after the first PUT and then not during the test.
const INTERVAL = "1h";

/**
 * Until the scheduler's first periodic sync of the tenant (started within a second of its first
 * PUT) has run: after it, no sync of the tenant runs behind the test's back, so a PUT and the sync
 * after it are what the next answer shows.
 */
async function settled(who: Persona): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const s = (await call(who, "/api/v1/gitops/status")).body;
    if (s.next_sync_at !== null && s.state !== "syncing") return;
    if (Date.now() > until) throw new Error(`the first periodic sync did not end: ${JSON.stringify(s)}`);
    await Bun.sleep(20);
  }
}

/** The ssh command lines that went to `sshd` (by its port in HostKeyAlias), each as its arguments. */
const sshCalls = (sshd: SshServer) =>
  argvLog("ssh")
    .split("\n\n")
    .filter((c) => c.includes(`HostKeyAlias=[127.0.0.1]:${sshd.port}\n`))
    .map((c) => c.split("\n"));

describe("https with an access token", () => {
  /** A tenant whose jobs are below `<slug>/` of the shared repository, holding `files`, connected with `token`. */
  async function httpsTenant(name: string, slug: string, token: string | null, files: Record<string, string>): Promise<Persona> {
    const who = await persona(db, name, slug, "owner");
    for (const [path, text] of Object.entries(files)) shared.write(`${slug}/${path}`, text);
    shared.commit(`Add ${slug}'s jobs`);
    shared.push();
    expect((await call(who, "/api/v1/gitops", { method: "PUT", json: { url: https.url, path: slug, interval: INTERVAL, ...(token ? { token } : {}) } })).status).toBe(200);
    await settled(who);
    return who;
  }

  test("a sync over https with the right token applies the commit; the token went as a header, never in git's command line", async () => {
    const alice = await httpsTenant("alice", "acme", TOKEN, { "production/backup.yaml": manifest("backup") });
    const r = await sync(alice);
    expect(r.body).toMatchObject({ state: "ok", message: null });
    expect(await jobNames(alice)).toEqual(["production/backup"]);
    expect(https.requests.some((q) => q.status === 200 && q.authorization === `Basic ${TOKEN_BASIC}`)).toBe(true);
    expect(argvLog("git")).toContain(https.url);
    expect(argvLog("git")).not.toContain(TOKEN);
    expect(argvLog("git")).not.toContain(TOKEN_BASIC);
  });

  test("a wrong token fails the sync with a message that says so and holds no token; nothing changes", async () => {
    const bob = await httpsTenant("bob", "bobco", TOKEN, { "backup.yaml": manifest("backup") });
    expect((await sync(bob)).body.state).toBe("ok");
    shared.write("bobco/report.yaml", manifest("report"));
    shared.commit("Add bobco's report");
    shared.push();
    expect((await call(bob, "/api/v1/gitops", { method: "PUT", json: { url: https.url, path: "bobco", token: WRONG, interval: INTERVAL } })).status).toBe(200);
    const r = await sync(bob);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain("the remote refused the access token");
    expect(https.requests.at(-1)).toMatchObject({ status: 401 });
    const status = (await call(bob, "/api/v1/gitops/status")).body;
    const history = (await call(bob, "/api/v1/gitops/syncs")).body;
    expect(status).toMatchObject({ state: "failing", message: r.body.message });
    expect(history.syncs[0]).toMatchObject({ state: "failing", error: r.body.message });
    const seen = JSON.stringify([r.body, status, history]) + serverLog + argvLog("git");
    for (const secret of [WRONG, TOKEN, Buffer.from(`x-access-token:${WRONG}`).toString("base64"), TOKEN_BASIC]) expect(seen).not.toContain(secret);
    expect(serverLog).toContain("gitops sync failed");
    // The commit with the new job was not applied.
    expect(await jobNames(bob)).toEqual(["default/backup"]);
  });

  test("without a token the sync says one is needed; with the token it applies the commit", async () => {
    const dana = await httpsTenant("dana", "danaco", null, { "backup.yaml": manifest("backup") });
    expect((await sync(dana)).body.message).toContain("no token is set");
    expect(await jobNames(dana)).toEqual([]);
    await call(dana, "/api/v1/gitops", { method: "PUT", json: { url: https.url, path: "danaco", token: TOKEN, interval: INTERVAL } });
    expect((await sync(dana)).body.state).toBe("ok");
    expect(await jobNames(dana)).toEqual(["default/backup"]);
  });
});

describe.skipIf(noSshd !== null)("ssh with a deploy key the server made", () => {
  /** A tenant owned by `name`, connected (without a key) to a repository holding nightly.yaml behind an sshd of its own. */
  async function sshTenant(name: string, slug: string) {
    const owner = await persona(db, name, slug, "owner");
    const bare = bareRepo(slug);
    const repo = workTree(bare);
    repo.write("nightly.yaml", manifest("nightly"));
    repo.commit("Add nightly");
    repo.push();
    // The forge knows a colleague's key so far, not Crontopus's.
    const sshd = await sshServer({ authorizedKey: sshKeyPair("a colleague").publicKey });
    sshds.push(sshd);
    const put = await call(owner, "/api/v1/gitops", { method: "PUT", json: { url: sshd.url(bare), interval: INTERVAL } });
    expect(put.body).toMatchObject({ has_ssh_key: false, ssh_public_key: null, ssh_known_hosts: null });
    await settled(owner);
    return { owner, bare, repo, sshd };
  }
  /** POST /deploy-key, and the public key added to the forge (the sshd). */
  async function addDeployKey(t: { owner: Persona; sshd: SshServer }): Promise<string> {
    const key = (await call(t.owner, "/api/v1/gitops/deploy-key", { method: "POST" })).body.ssh_public_key as string;
    t.sshd.authorize(key);
    return key;
  }

  test("connected without a key, the first fetch pins the host's key and says a deploy key is needed", async () => {
    const { owner, sshd } = await sshTenant("ian", "initech");
    const r = await sync(owner);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain("the ssh server wants a key and none is set: make one with POST /api/v1/gitops/deploy-key");
    const s = await settings(owner);
    expect(s.ssh_known_hosts).toMatch(/^# pinned on first use by Crontopus at \d{4}-\d\d-\d\dT[\d:.]+Z\n/);
    expect(s.ssh_known_hosts.split("\n").slice(1)).toEqual([sshd.hostKeyLine, ""]);
  });

  test("POST /deploy-key answers the public key line to paste (owner or admin only, no-store); the private key is sealed and never answered", async () => {
    const { owner, sshd, bare } = await sshTenant("una", "umbrella");
    val = await persona(db, "val", "umbrella", "viewer");
    expect((await call(val, "/api/v1/gitops/deploy-key", { method: "POST" })).status).toBe(403);
    expect((await call(charlie, "/api/v1/gitops/deploy-key", { method: "POST" })).status).toBe(404);

    const r = await call(owner, "/api/v1/gitops/deploy-key", { method: "POST" });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.ssh_public_key).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ crontopus@umbrella$/);
    expect(r.body.has_ssh_key).toBe(true);
    expect((await settings(owner)).ssh_public_key).toBe(r.body.ssh_public_key);
    expect((await settings(val)).ssh_public_key).toBe(r.body.ssh_public_key);
    const row = db.query<{ credentials: string }, [string]>("SELECT credentials FROM gitops_settings WHERE url = ?").get(sshd.url(bare))!;
    expect(row.credentials).toStartWith("enc:v1:");
    expect(JSON.stringify(r.body) + row.credentials).not.toContain("PRIVATE KEY");

    // An https remote takes a token, not a deploy key.
    await call(owner, "/api/v1/gitops", { method: "PUT", json: { url: https.url, interval: INTERVAL } });
    const wrongKind = await call(owner, "/api/v1/gitops/deploy-key", { method: "POST" });
    expect(wrongKind.status).toBe(422);
    expect(wrongKind.body.error.message).toStartWith("url: is not an ssh remote");
  });

  test("with the deploy key added on the forge the sync applies the commit; the pinned host key is required from then on; ssh ran locked down and left nothing behind", async () => {
    const t = await sshTenant("hal", "hooli");
    const refused = await sync(t.owner);
    expect(refused.body.message).toContain("the ssh server wants a key");
    await addDeployKey(t);
    expect((await sync(t.owner)).body).toMatchObject({ state: "ok", message: null });
    t.repo.write("weekly.yaml", manifest("weekly", "@weekly"));
    t.repo.commit("Add weekly");
    t.repo.push();
    expect((await sync(t.owner)).body.state).toBe("ok");
    expect(await jobNames(t.owner)).toEqual(["default/nightly", "default/weekly"]);
    expect((await settings(t.owner)).ssh_known_hosts.split("\n")[1]).toBe(t.sshd.hostKeyLine);

    const calls = sshCalls(t.sshd);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const argv of calls) {
      expect(argv.slice(0, 2)).toEqual(["-F", "/dev/null"]);
      for (const opt of ["BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none", "ForwardAgent=no", "ClearAllForwardings=yes", "GlobalKnownHostsFile=/dev/null", "ConnectTimeout=20", "PasswordAuthentication=no"]) expect(argv).toContain(opt);
      expect(argv.find((a) => a.startsWith("UserKnownHostsFile="))).toStartWith(`UserKnownHostsFile=${tmp}/crontopus-ssh-`);
    }
    // accept-new for the very first contact only: every later one required the pinned key.
    expect(calls.map((argv) => argv.find((a) => a.startsWith("StrictHostKeyChecking=")))).toEqual(["StrictHostKeyChecking=accept-new", ...calls.slice(1).map(() => "StrictHostKeyChecking=yes")]);
    const modes = readFileSync(join(rec, "key-modes"), "utf8").trim().split("\n");
    for (const m of modes) expect(m).toMatch(new RegExp(`^600 ${tmp}/crontopus-ssh-[^/]+/deploy_key$`));
    expect(argvLog("ssh") + argvLog("git")).not.toContain("PRIVATE KEY");
    expect(readdirSync(tmp)).toEqual([]);
  });

  test("a changed host key fails the sync with a clear message and changes nothing; giving the new key in ssh_known_hosts lets it through", async () => {
    const t = await sshTenant("wes", "wayne");
    await addDeployKey(t);
    expect((await sync(t.owner)).body.state).toBe("ok");
    t.repo.write("weekly.yaml", manifest("weekly", "@weekly"));
    t.repo.commit("Add weekly");
    t.repo.push();
    await t.sshd.changeHostKey();
    const before = await settings(t.owner);
    const r = await sync(t.owner);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain(`the ssh host key of [127.0.0.1]:${t.sshd.port} is not the one pinned on first use: the sync was stopped and nothing changed`);
    expect(await jobNames(t.owner)).toEqual(["default/nightly"]);
    expect((await settings(t.owner)).ssh_known_hosts).toBe(before.ssh_known_hosts);

    const put = await call(t.owner, "/api/v1/gitops", { method: "PUT", json: { url: t.sshd.url(t.bare), interval: INTERVAL, ssh_known_hosts: t.sshd.hostKeyLine } });
    expect(put.body.ssh_known_hosts).toBe(`${t.sshd.hostKeyLine}\n`);
    expect((await sync(t.owner)).body.state).toBe("ok");
    expect(await jobNames(t.owner)).toEqual(["default/nightly", "default/weekly"]);
  });

  test("a new POST /deploy-key replaces the key: the old one no longer serves, the new one does once added", async () => {
    const t = await sshTenant("gil", "gringotts");
    const old = await addDeployKey(t);
    expect((await sync(t.owner)).body.state).toBe("ok");
    const fresh = (await call(t.owner, "/api/v1/gitops/deploy-key", { method: "POST" })).body.ssh_public_key;
    expect(fresh).not.toBe(old);
    expect((await settings(t.owner)).ssh_public_key).toBe(fresh);
    expect((await sync(t.owner)).body.message).toContain("the ssh server refused the deploy key");
    t.sshd.authorize(fresh);
    expect((await sync(t.owner)).body.state).toBe("ok");
  });
});
