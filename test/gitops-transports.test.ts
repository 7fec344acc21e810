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
let alice: Persona, val: Persona, ian: Persona, charlie: Persona;
let https: GitHttpServer;
let acmeRepo: WorkTree;
let acmeBare: string;

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

  acmeBare = bareRepo("acme-jobs");
  acmeRepo = workTree(acmeBare);
  acmeRepo.write("production/backup.yaml", manifest("backup"));
  acmeRepo.commit("Add backup");
  acmeRepo.push();
  https = gitHttpServer(acmeBare, { token: TOKEN, tls: true });

  db = openDb(join(dataDir, "crontopus.db"));
  migrate(db);
  alice = await persona(db, "alice", "acme", "owner");
  val = await persona(db, "val", "initech", "viewer");
  ian = await persona(db, "ian", "initech", "owner");
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
const jobNames = async (who: Persona) => ((await call(who, "/api/v1/jobs")).body.jobs as { namespace: string; name: string }[]).map((j) => `${j.namespace}/${j.name}`).sort();
// A long interval: the periodic sync runs once after the first PUT and then not during the test.
const INTERVAL = "1h";

describe("https with an access token (alice, acme)", () => {
  test("a sync over https with the right token applies the commit; the token went as a header, never in git's command line", async () => {
    expect((await call(alice, "/api/v1/gitops", { method: "PUT", json: { url: https.url, token: TOKEN, interval: INTERVAL } })).status).toBe(200);
    const r = await sync(alice);
    expect(r.body).toMatchObject({ state: "ok", message: null });
    expect(await jobNames(alice)).toEqual(["production/backup"]);
    expect(https.requests.some((q) => q.status === 200 && q.authorization === `Basic ${TOKEN_BASIC}`)).toBe(true);
    expect(argvLog("git")).toContain(https.url);
    expect(argvLog("git")).not.toContain(TOKEN);
    expect(argvLog("git")).not.toContain(TOKEN_BASIC);
  });

  test("a wrong token fails the sync with a message that says so and holds no token; nothing changes", async () => {
    acmeRepo.write("production/report.yaml", manifest("report"));
    acmeRepo.commit("Add report");
    acmeRepo.push();
    expect((await call(alice, "/api/v1/gitops", { method: "PUT", json: { url: https.url, token: WRONG, interval: INTERVAL } })).status).toBe(200);
    const r = await sync(alice);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain("the remote refused the access token");
    const status = (await call(alice, "/api/v1/gitops/status")).body;
    const history = (await call(alice, "/api/v1/gitops/syncs")).body;
    expect(status).toMatchObject({ state: "failing", message: r.body.message });
    expect(history.syncs[0]).toMatchObject({ state: "failing", error: r.body.message });
    const seen = JSON.stringify([r.body, status, history]) + serverLog + argvLog("git");
    for (const secret of [WRONG, TOKEN, Buffer.from(`x-access-token:${WRONG}`).toString("base64"), TOKEN_BASIC]) expect(seen).not.toContain(secret);
    expect(serverLog).toContain("gitops sync failed");
    // The commit with the new job was not applied.
    expect(await jobNames(alice)).toEqual(["production/backup"]);
    expect(https.requests.at(-1)).toMatchObject({ status: 401 });
  });

  test("without a token the sync says one is needed; with the right one again it applies the waiting commit", async () => {
    await call(alice, "/api/v1/gitops", { method: "PUT", json: { url: https.url, token: null, interval: INTERVAL } });
    expect((await sync(alice)).body.message).toContain("no token is set");
    await call(alice, "/api/v1/gitops", { method: "PUT", json: { url: https.url, token: TOKEN, interval: INTERVAL } });
    expect((await sync(alice)).body.state).toBe("ok");
    expect(await jobNames(alice)).toEqual(["production/backup", "production/report"]);
  });
});

describe.skipIf(noSshd !== null)("ssh with a deploy key the server made (ian, initech)", () => {
  let sshd: SshServer;
  let bare: string;
  let repo: WorkTree;
  let firstHostKey: string;
  beforeAll(async () => {
    bare = bareRepo("initech-jobs");
    repo = workTree(bare);
    repo.write("nightly.yaml", manifest("nightly"));
    repo.commit("Add nightly");
    repo.push();
    // The forge knows a colleague's key so far, not Crontopus's.
    sshd = await sshServer({ authorizedKey: sshKeyPair("a colleague").publicKey });
  });
  afterAll(() => sshd?.stop());

  const settings = async () => (await call(ian, "/api/v1/gitops")).body;

  test("connected without a key, the first fetch pins the host's key and says a deploy key is needed", async () => {
    const put = await call(ian, "/api/v1/gitops", { method: "PUT", json: { url: sshd.url(bare), interval: INTERVAL } });
    expect(put.body).toMatchObject({ has_ssh_key: false, ssh_public_key: null });
    const r = await sync(ian);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain("POST /api/v1/gitops/deploy-key");
    const s = await settings();
    expect(s.ssh_known_hosts).toMatch(/^# pinned on first use by Crontopus at \d{4}-\d\d-\d\dT[\d:.]+Z\n/);
    expect(s.ssh_known_hosts.split("\n")[1]).toBe(sshd.hostKeyLine);
    firstHostKey = sshd.hostKeyLine;
  });

  test("POST /deploy-key answers the public key line to paste (owner or admin only, no-store); the private key is sealed and never answered", async () => {
    expect((await call(val, "/api/v1/gitops/deploy-key", { method: "POST" })).status).toBe(403);
    expect((await call(charlie, "/api/v1/gitops/deploy-key", { method: "POST" })).status).toBe(404);
    const https422 = await call(alice, "/api/v1/gitops/deploy-key", { method: "POST" });
    expect(https422.status).toBe(422);
    expect(https422.body.error.message).toStartWith("url: is not an ssh remote");

    const r = await call(ian, "/api/v1/gitops/deploy-key", { method: "POST" });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.ssh_public_key).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ crontopus@initech$/);
    expect(r.body.has_ssh_key).toBe(true);
    expect((await settings()).ssh_public_key).toBe(r.body.ssh_public_key);
    expect((await call(val, "/api/v1/gitops")).body.ssh_public_key).toBe(r.body.ssh_public_key);
    const row = db.query<{ credentials: string }, [string]>("SELECT credentials FROM gitops_settings WHERE url = ?").get(sshd.url(bare))!;
    expect(row.credentials).toStartWith("enc:v1:");
    expect(JSON.stringify(r.body) + row.credentials).not.toContain("PRIVATE KEY");
  });

  test("before the key is added on the forge the sync says the key was refused; once added, the sync applies the commit", async () => {
    const refused = await sync(ian);
    expect(refused.body.state).toBe("failing");
    expect(refused.body.message).toContain("the ssh server refused the deploy key");
    sshd.authorize((await settings()).ssh_public_key);
    const r = await sync(ian);
    expect(r.body).toMatchObject({ state: "ok", message: null });
    expect(await jobNames(ian)).toEqual(["default/nightly"]);
    // The pinned key is the one required: unchanged by the syncs that used it.
    expect((await settings()).ssh_known_hosts.split("\n")[1]).toBe(firstHostKey);
  });

  test("ssh ran in batch mode with no agent or forwarding, the key only, strict host checking, no ssh_config; the key file was 0600 and nothing is left in TMPDIR", () => {
    const calls = argvLog("ssh").split("\n\n").filter(Boolean);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const c of calls) {
      const argv = c.split("\n");
      for (const opt of ["BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none", "ForwardAgent=no", "ClearAllForwardings=yes", "GlobalKnownHostsFile=/dev/null", "ConnectTimeout=20", "PasswordAuthentication=no"]) expect(argv).toContain(opt);
      expect(argv.slice(0, 2)).toEqual(["-F", "/dev/null"]);
      expect(argv.find((a) => a.startsWith("UserKnownHostsFile="))).toStartWith(`UserKnownHostsFile=${tmp}/crontopus-ssh-`);
      expect(argv.find((a) => a.startsWith("StrictHostKeyChecking="))).toMatch(/^StrictHostKeyChecking=(yes|accept-new)$/);
    }
    // accept-new only for the very first contact: every later call required the pinned key.
    expect(calls.slice(1).every((c) => c.includes("StrictHostKeyChecking=yes"))).toBe(true);
    const modes = readFileSync(join(rec, "key-modes"), "utf8").trim().split("\n");
    expect(modes.length).toBeGreaterThanOrEqual(2);
    for (const m of modes) expect(m).toMatch(new RegExp(`^600 ${tmp}/crontopus-ssh-[^/]+/deploy_key$`));
    expect(argvLog("ssh") + argvLog("git")).not.toContain("PRIVATE KEY");
    expect(readdirSync(tmp)).toEqual([]);
  });

  test("a changed host key fails the sync with a clear message and changes nothing; giving the new key in ssh_known_hosts lets it through", async () => {
    repo.write("weekly.yaml", manifest("weekly", "@weekly"));
    repo.commit("Add weekly");
    repo.push();
    await sshd.changeHostKey();
    const before = await settings();
    const r = await sync(ian);
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain("is not the one pinned on first use: the sync was stopped and nothing changed");
    expect(r.body.message).toContain(`[127.0.0.1]:${sshd.port}`);
    expect(await jobNames(ian)).toEqual(["default/nightly"]);
    expect((await settings()).ssh_known_hosts).toBe(before.ssh_known_hosts);

    const put = await call(ian, "/api/v1/gitops", { method: "PUT", json: { url: sshd.url(bare), interval: INTERVAL, ssh_known_hosts: sshd.hostKeyLine } });
    expect(put.body.ssh_known_hosts).toBe(`${sshd.hostKeyLine}\n`);
    expect((await sync(ian)).body.state).toBe("ok");
    expect(await jobNames(ian)).toEqual(["default/nightly", "default/weekly"]);
  });

  test("a new POST /deploy-key replaces the key: the old one no longer serves, the new one does once added", async () => {
    const old = (await settings()).ssh_public_key;
    const fresh = (await call(ian, "/api/v1/gitops/deploy-key", { method: "POST" })).body.ssh_public_key;
    expect(fresh).not.toBe(old);
    expect((await sync(ian)).body.message).toContain("the ssh server refused the deploy key");
    sshd.authorize(fresh);
    expect((await sync(ian)).body.state).toBe("ok");
    expect(readdirSync(tmp)).toEqual([]);
  });
});
