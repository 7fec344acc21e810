// GitOps settings over HTTP: alice (owner of acme) connects a repository, val (viewer) reads the
// settings without secrets, and charlie (globex) sees none of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pinGitopsHostKeys } from "../src/gitops/settings";
import { persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";

let srv: TestServer, closed: TestServer;
let alice: Persona, val: Persona, charlie: Persona, mallory: Persona;

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  closed = await startTestServer();
  alice = await persona(srv.db, "alice", "acme", "owner");
  val = await persona(srv.db, "val", "acme", "viewer");
  charlie = await persona(srv.db, "charlie", "globex", "owner");
  mallory = await persona(closed.db, "mallory", "acme", "owner");
});
afterAll(async () => {
  await srv.close();
  await closed.close();
});

const put = (s: TestServer, who: Persona, json: unknown) => s.api("/api/v1/gitops", { method: "PUT", token: who.token, json });

describe("GitOps settings", () => {
  test("answers 404 before a repository is connected", async () => {
    const nina = await persona(srv.db, "nina", "newco", "owner");
    expect((await srv.api("/api/v1/gitops", { token: nina.token })).status).toBe(404);
  });

  test("the owner connects a repository with defaults, and the token is never returned", async () => {
    const res = await put(srv, alice, { url: "https://git.example.com/acme/jobs.git", token: "ghp_secret_token" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json();
    expect(body).toMatchObject({ url: "https://git.example.com/acme/jobs.git", branch: "main", path: "", interval: "1m", prune: false, write_back: false, has_token: true });
    expect(body.webhook_url).toStartWith(`${srv.url}/api/v1/gitops/webhook/`);
    expect(body.webhook_secret).toMatch(/.{20,}/);
    expect(JSON.stringify(body)).not.toContain("ghp_secret_token");
    // Sealed at rest, too.
    const row = srv.db.query<{ credentials: string }, []>("SELECT credentials FROM gitops_settings").get()!;
    expect(row.credentials).toStartWith("enc:v1:");
    expect(row.credentials).not.toContain("ghp_secret_token");
  });

  test("a viewer reads the settings without the webhook secret and cannot change them", async () => {
    await put(srv, alice, { url: "https://git.example.com/acme/jobs.git" });
    const res = await srv.api("/api/v1/gitops", { token: val.token });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.url).toBe("https://git.example.com/acme/jobs.git");
    expect(body.webhook_secret).toBeUndefined();
    expect((await put(srv, val, { url: "https://git.example.com/x.git" })).status).toBe(403);
    expect((await srv.api("/api/v1/gitops", { method: "DELETE", token: val.token })).status).toBe(403);
  });

  test("another tenant sees no settings", async () => {
    expect((await srv.api("/api/v1/gitops", { token: charlie.token })).status).toBe(404);
  });

  test("a replace keeps the token left out and the webhook secret; rotating changes the secret", async () => {
    await put(srv, alice, { url: "https://git.example.com/acme/jobs.git", token: "ghp_secret_token" });
    const before = await (await srv.api("/api/v1/gitops", { token: alice.token })).json();
    const res = await put(srv, alice, { url: "https://git.example.com/acme/jobs.git", branch: "prod", path: "/jobs/", interval: "30s", prune: true });
    const after = await res.json();
    expect(after).toMatchObject({ branch: "prod", path: "jobs", interval: "30s", prune: true, has_token: true, webhook_secret: before.webhook_secret, webhook_url: before.webhook_url });
    const rotated = await (await srv.api("/api/v1/gitops/webhook-secret", { method: "POST", token: alice.token })).json();
    expect(rotated.webhook_secret).not.toBe(before.webhook_secret);
  });

  test("field errors name the field", async () => {
    const cases: [unknown, string][] = [
      [{ url: "--upload-pack=touch /tmp/x" }, "url"],
      [{ url: "https://git.example.com/x.git", interval: "5s" }, "interval"],
      [{ url: "https://git.example.com/x.git", branch: "-x" }, "branch"],
      [{ url: "https://git.example.com/x.git", path: "../etc" }, "path"],
      [{ url: "https://git.example.com/x.git", ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----" }, "ssh_key"],
    ];
    for (const [json, field] of cases) {
      const res = await put(srv, alice, json);
      expect(res.status).toBe(422);
      expect((await res.json()).error.details[0].field).toBe(field);
    }
  });

  test("file:// and http:// remotes and internal hosts need CRONTOPUS_ALLOW_PRIVATE_TARGETS", async () => {
    for (const url of ["file:///srv/git/jobs.git", "/srv/git/jobs.git", "http://git.example.com/x.git", "https://127.0.0.1/x.git", "ssh://git@localhost/x.git", "git@10.0.0.1:x.git"]) {
      const res = await put(closed, mallory, { url });
      expect(res.status).toBe(422);
      expect((await res.json()).error.message).toStartWith("url:");
    }
    expect((await put(srv, alice, { url: "file:///srv/git/jobs.git" })).status).toBe(200);
  });

  test("an ssh key given in a PUT shows its public key; one with a passphrase, or bad known_hosts, is refused naming the field", async () => {
    const url = "git@git.example.com:acme/jobs.git";
    const file = join(tempDir(), "id");
    expect(Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice's laptop", "-f", file]).exitCode).toBe(0);
    const res = await put(srv, alice, { url, ssh_key: readFileSync(file, "utf8") });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ has_ssh_key: true, ssh_public_key: readFileSync(`${file}.pub`, "utf8").trim().replace(/ alice's laptop$/, "") });
    expect(JSON.stringify(body)).not.toContain("PRIVATE KEY");

    expect(Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", `${file}2`]).exitCode).toBe(0);
    const cases: [unknown, string, RegExp][] = [
      [{ url, ssh_key: readFileSync(`${file}2`, "utf8") }, "ssh_key", /passphrase/],
      [{ url, ssh_known_hosts: "git.example.com" }, "ssh_known_hosts", /line 1 is not a known_hosts line/],
      [{ url, ssh_known_hosts: "# only a comment\n" }, "ssh_known_hosts", /has no host key/],
    ];
    for (const [json, field, message] of cases) {
      const r = await put(srv, alice, json);
      expect(r.status).toBe(422);
      const err = (await r.json()).error;
      expect(err.details[0].field).toBe(field);
      expect(err.message).toMatch(message);
    }
    // Removing the key removes its public key.
    expect(await (await put(srv, alice, { url, ssh_key: null })).json()).toMatchObject({ has_ssh_key: false, ssh_public_key: null });
  });

  test("host keys pinned on first use stay while the remote's host does, and go when it changes; given ones stay", async () => {
    const url = "ssh://git@git.example.com:2222/acme/jobs.git";
    await put(srv, alice, { url, ssh_known_hosts: null });
    const tenantId = srv.db.query<{ tenant_id: string }, [string]>("SELECT tenant_id FROM gitops_settings WHERE url = ?").get(url)!.tenant_id;
    const line = "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    expect(pinGitopsHostKeys(srv.db, tenantId, "ssh://git@elsewhere/x.git", [line], Date.now())).toBe(false);
    expect(pinGitopsHostKeys(srv.db, tenantId, url, [line], Date.parse("2026-12-01T10:00:00Z"))).toBe(true);
    // Pinned once: a second first use does not overwrite it.
    expect(pinGitopsHostKeys(srv.db, tenantId, url, ["[git.example.com]:2222 ssh-ed25519 AAAAother"], Date.now())).toBe(false);
    const pinned = `# pinned on first use by Crontopus at 2026-12-01T10:00:00.000Z\n${line}\n`;
    expect((await (await srv.api("/api/v1/gitops", { token: alice.token })).json()).ssh_known_hosts).toBe(pinned);
    expect((await (await put(srv, alice, { url: url.replace("acme/jobs", "acme/other"), branch: "prod" })).json()).ssh_known_hosts).toBe(pinned);
    expect((await (await put(srv, alice, { url: "git@git.example.com:acme/jobs.git" })).json()).ssh_known_hosts).toBeNull();
    await put(srv, alice, { url, ssh_known_hosts: line });
    expect((await (await put(srv, alice, { url: "git@another.example.com:acme/jobs.git" })).json()).ssh_known_hosts).toBe(`${line}\n`);
  });

  test("a deploy key is made for a connected ssh remote only", async () => {
    expect((await srv.api("/api/v1/gitops/deploy-key", { method: "POST", token: charlie.token })).status).toBe(404);
    await put(srv, alice, { url: "https://git.example.com/acme/jobs.git" });
    const r = await srv.api("/api/v1/gitops/deploy-key", { method: "POST", token: alice.token });
    expect(r.status).toBe(422);
    expect((await r.json()).error.details[0].field).toBe("url");
  });

  test("disconnecting leaves the jobs as ordinary jobs", async () => {
    await put(srv, alice, { url: "file:///srv/git/jobs.git" });
    await srv.api("/api/v1/jobs/default/nightly", { method: "PUT", token: alice.token, json: { schedule: "@daily" } });
    srv.db.query("UPDATE jobs SET source_repository = 'file:///srv/git/jobs.git', source_path = 'nightly.yaml', source_commit = 'abc'").run();
    expect((await srv.api("/api/v1/gitops", { method: "DELETE", token: alice.token })).status).toBe(204);
    expect((await srv.api("/api/v1/gitops", { token: alice.token })).status).toBe(404);
    const job = await (await srv.api("/api/v1/jobs/default/nightly", { token: alice.token })).json();
    expect(job.name).toBe("nightly");
    expect(srv.db.query("SELECT source_repository FROM jobs").get()).toEqual({ source_repository: null });
  });
});
