// The CLI as a user runs it: real subprocesses against a live server. alice owns acme, bob is a
// member of acme, charlie owns globex and must never see acme's jobs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { cli, freePort, PASSWORD, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona, bob: Persona, charlie: Persona;
let home: string;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  bob = await persona(s.db, "bob", "acme", "member");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  home = tempDir("crontopus-cli-");
});
afterAll(async () => {
  await s.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs the CLI with nothing inherited that could point it at another server or config. */
function run(args: string[], env: Record<string, string> = {}, stdin?: string) {
  return cli(args, { HOME: home, XDG_CONFIG_HOME: "", CRONTOPUS_URL: "", CRONTOPUS_TOKEN: "", CRONTOPUS_CONFIG: join(home, "unused.json"), ...env }, stdin);
}

/** Runs the CLI as a persona, through the environment variables. */
const as = (p: Persona, args: string[], stdin?: string) => run(args, { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: p.token }, stdin);

const lines = (text: string) => text.split("\n").filter(Boolean);

function writeFiles(dir: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

describe("auth", () => {
  test("alice logs in with her password on stdin; the config file is private and whoami reads it", async () => {
    const config = join(home, "alice", "crontopus", "config.json");
    const login = await run(["auth", "login", "--server", s.url, "--email", "alice@example.com"], { CRONTOPUS_CONFIG: config }, `${PASSWORD}\n`);
    expect(login.stderr).toBe("");
    expect(login.code).toBe(0);
    expect(login.stdout).toContain("owner of acme");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "alice", "crontopus")).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(readFileSync(config, "utf8"));
    expect(saved.server).toBe(s.url);
    expect(saved.token).toStartWith("ctp_");

    const who = await run(["auth", "whoami"], { CRONTOPUS_CONFIG: config });
    expect(who.code).toBe(0);
    expect(who.stdout).toMatch(/email:\s+alice@example\.com/);
    expect(who.stdout).toMatch(/tenant:\s+acme/);
    expect(who.stdout).toMatch(/role:\s+owner/);
    expect(who.stdout).toMatch(/scopes:\s+read, write, admin/);

    const tokens = JSON.parse((await run(["tokens", "list", "--json"], { CRONTOPUS_CONFIG: config })).stdout);
    expect(tokens.tokens.map((t: { name: string }) => t.name)).toContain(`cli@${hostname()}`);
  });

  test("a wrong password exits 1 with one line on stderr and saves nothing", async () => {
    const config = join(home, "wrong", "config.json");
    const r = await run(["auth", "login", "--server", s.url, "--email", "alice@example.com", "--password", "not her password"], { CRONTOPUS_CONFIG: config });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toStartWith("error: ");
    expect(r.stdout).toBe("");
    expect(existsSync(config)).toBe(false);
  });

  test("bob logs out: the token is revoked on the server and forgotten locally", async () => {
    const config = join(home, "bob", "config.json");
    expect((await run(["auth", "login", "--server", s.url, "--email", "bob@example.com", "--password", PASSWORD], { CRONTOPUS_CONFIG: config })).code).toBe(0);
    const token = JSON.parse(readFileSync(config, "utf8")).token as string;
    expect((await s.api("/api/v1/me", { token })).status).toBe(200);

    const out = await run(["auth", "logout"], { CRONTOPUS_CONFIG: config });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("token revoked");
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({ server: s.url });
    expect((await s.api("/api/v1/me", { token })).status).toBe(401);

    const who = await run(["auth", "whoami"], { CRONTOPUS_CONFIG: config });
    expect(who.code).toBe(1);
    expect(who.stderr).toContain("crontopus auth login");
  });

  test("alice creates a second tenant and logs in to it with --tenant", async () => {
    const created = await as(alice, ["tenants", "create", "acme-labs", "--name", "Acme Labs"]);
    expect(created.code).toBe(0);
    const config = join(home, "alice-labs", "config.json");
    const login = await run(["auth", "login", "--server", s.url, "--email", "alice@example.com", "--tenant", "acme-labs", "--password", "-"], { CRONTOPUS_CONFIG: config }, PASSWORD);
    expect(login.code).toBe(0);
    const me = JSON.parse((await run(["auth", "whoami", "--json"], { CRONTOPUS_CONFIG: config })).stdout);
    expect(me.tenant).toEqual({ slug: "acme-labs", name: "Acme Labs" });
    // A token sees only its own tenant.
    const list = await run(["tenants", "list"], { CRONTOPUS_CONFIG: config });
    expect(lines(list.stdout).slice(1)).toEqual([expect.stringMatching(/^\*\s+acme-labs\s+Acme Labs\s+owner$/)]);
  });

  test("flags beat the environment: a bad --token fails even when CRONTOPUS_TOKEN is good", async () => {
    const good = await as(bob, ["auth", "whoami"]);
    expect(good.stdout).toMatch(/role:\s+member/);
    const bad = await run(["auth", "whoami", "--token", "ctp_nope"], { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: bob.token });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toStartWith("error: invalid or expired token");
  });
});

describe("usage and connection errors", () => {
  test("an unknown subcommand exits 2", async () => {
    const r = await as(bob, ["jobs", "frobnicate"]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringContaining("Unknown command frobnicate")]);
  });

  test("a missing required flag or argument exits 2", async () => {
    const noName = await as(bob, ["tokens", "create"]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("--name");
    expect((await as(bob, ["jobs", "apply"])).code).toBe(2);
    expect((await as(bob, ["jobs", "get"])).code).toBe(2);
  });

  test("an unknown flag exits 2 instead of being ignored", async () => {
    const r = await as(bob, ["jobs", "list", "--namspace", "ops"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --namspace");
  });

  test("an unreachable server is exit 1 and one line", async () => {
    const port = await freePort();
    const r = await run(["jobs", "list", "--server", `http://127.0.0.1:${port}`, "--token", bob.token]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot reach the Crontopus server at http://127.0.0.1:${port}\n`);
  });

  test("with no server configured anywhere the CLI says how to set one", async () => {
    const r = await run(["jobs", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: no server: pass --server, set CRONTOPUS_URL or run 'crontopus auth login'\n");
  });
});

describe("jobs", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("crontopus-manifests-");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const backup = `apiVersion: crontopus/v1
kind: Job
metadata:
  name: backup
  labels: {tier: gold}
spec:
  schedule: "0 2 * * *"
  timezone: Europe/Berlin
  command: /opt/backup.sh
`;

  test("apply of a multi-document YAML file creates each job; applying it again changes nothing", async () => {
    writeFiles(dir, { "multi.yaml": `${backup}---\nname: report\nnamespace: ops\nschedule: "@daily"\n---\n` });
    const first = await as(bob, ["jobs", "apply", "-f", join(dir, "multi.yaml")]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(lines(first.stdout)).toEqual(["job default/backup created", "job ops/report created"]);
    const again = await as(bob, ["jobs", "apply", "-f", join(dir, "multi.yaml")]);
    expect(lines(again.stdout)).toEqual(["job default/backup unchanged", "job ops/report unchanged"]);
  });

  test("apply of a directory reads every manifest in it, recursively, in path order", async () => {
    const tree = join(dir, "tree");
    writeFiles(tree, {
      "b.yml": "name: tree-b\nschedule: '@hourly'\n",
      "a/one.json": JSON.stringify({ name: "tree-a", schedule: "@daily" }),
      "c/deep/z.yaml": "apiVersion: crontopus/v1\nkind: Job\nmetadata: {name: tree-c, namespace: ops}\nspec: {schedule: '@weekly'}\n",
      "README.md": "not a manifest",
      ".github/workflows/ci.yml": "on: push\n",
    });
    const r = await as(bob, ["jobs", "apply", "-f", tree]);
    expect(r.stderr).toBe("");
    expect(lines(r.stdout)).toEqual(["job default/tree-a created", "job default/tree-b created", "job ops/tree-c created"]);
  });

  test("an unknown manifest field is a warning on stderr, and the job is still applied", async () => {
    const r = await as(bob, ["jobs", "apply", "-f", "-"], backup.replace("backup", "warned") + "  frobnicate: true\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("job default/warned created\n");
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^warning: default\/warned: .*spec\.frobnicate/)]);
  });

  test("a document without a name fails naming the file and document; the others still apply", async () => {
    const file = join(dir, "nameless.yaml");
    writeFiles(dir, { "nameless.yaml": "name: named\nschedule: '@daily'\n---\nschedule: '@daily'\n---\nname: bad-schedule\nschedule: '61 * * * *'\n" });
    const r = await as(bob, ["jobs", "apply", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("job default/named created\n");
    const err = lines(r.stderr);
    expect(err[0]).toBe(`error: ${file} (document 2): no name: set name`);
    expect(err[1]).toStartWith("error: default/bad-schedule: schedule");
    expect(err[2]).toBe("error: 2 of 3 job documents failed");
  });

  test("list, get, pause, resume and delete a job", async () => {
    expect((await as(bob, ["jobs", "apply", "-f", "-"], backup.replace("backup", "nightly"))).code).toBe(0);
    const list = await as(bob, ["jobs", "list", "--namespace", "default"]);
    expect(list.code).toBe(0);
    const [header, ...rows] = lines(list.stdout);
    expect(header).toMatch(/^NAMESPACE\s+NAME\s+STATUS\s+SCHEDULE\s+NEXT RUN$/);
    expect(rows).toContainEqual(expect.stringMatching(/^default\s+nightly\s+new\s+0 2 \* \* \*\s+\d{4}-\d\d-\d\dT02:00:00\+0[12]:00$/));

    const get = await as(bob, ["jobs", "get", "nightly"]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(new RegExp(`ping URL:\\s+${s.url.replaceAll(".", "\\.")}/ping/\\S+`));
    expect(get.stdout).toMatch(/next runs:\s+\d{4}-.*T02:00:00/);
    expect(get.stdout).toContain("Europe/Berlin");

    expect((await as(bob, ["jobs", "pause", "default/nightly"])).stdout).toBe("job default/nightly paused\n");
    const paused = await as(bob, ["jobs", "list", "--status", "paused"]);
    expect(lines(paused.stdout).slice(1)).toEqual([expect.stringMatching(/^default\s+nightly\s+paused\s/)]);
    expect((await as(bob, ["jobs", "resume", "default/nightly"])).stdout).toBe("job default/nightly resumed\n");
    expect(lines((await as(bob, ["jobs", "list", "--status", "paused"])).stdout)).toHaveLength(1);

    expect((await as(bob, ["jobs", "delete", "default/nightly"])).stdout).toBe("job default/nightly deleted\n");
    const gone = await as(bob, ["jobs", "get", "default/nightly"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("error: job default/nightly not found\n");
  });

  test("--json output parses", async () => {
    expect((await as(bob, ["jobs", "apply", "-f", "-"], "name: report\nnamespace: exports\nschedule: '@daily'\n---\nname: summary\nnamespace: exports\nschedule: '@weekly'\n")).code).toBe(0);
    const list = JSON.parse((await as(bob, ["jobs", "list", "--json", "--namespace", "exports"])).stdout);
    expect(list.jobs.map((j: { name: string }) => j.name)).toEqual(["report", "summary"]);
    expect(list.next_cursor).toBeNull();
    const job = JSON.parse((await as(bob, ["jobs", "get", "exports/report", "--json"])).stdout);
    expect(job).toMatchObject({ namespace: "exports", name: "report", schedule: "@daily", next_runs: expect.any(Array) });
    const namespaces = JSON.parse((await as(bob, ["namespaces", "list", "--json"])).stdout);
    expect(namespaces.namespaces).toContainEqual(expect.objectContaining({ name: "exports", jobs: 2 }));
    const applied = JSON.parse((await as(bob, ["jobs", "apply", "-f", "-", "--json"], '{"name": "from-json", "schedule": "@daily"}')).stdout);
    expect(applied).toEqual([expect.objectContaining({ namespace: "default", name: "from-json", action: "created", warnings: [] })]);
  });

  test("get -o yaml prints a manifest that apply takes back unchanged and without warnings", async () => {
    const manifest = join(dir, "tree-c.yaml");
    writeFiles(dir, {
      "full.yaml":
        "apiVersion: crontopus/v1\nkind: Job\nmetadata: {name: full, namespace: ops, labels: {team: data}}\n" +
        "spec: {schedule: '*/5 * * * *', timezone: UTC, command: /bin/sync, args: ['--fast', 'yes'], grace: 90, timeout: 1h}\n",
    });
    expect((await as(bob, ["jobs", "apply", "-f", join(dir, "full.yaml")])).code).toBe(0);
    const before = JSON.parse((await as(bob, ["jobs", "get", "ops/full", "--json"])).stdout);
    const yaml = await as(bob, ["jobs", "get", "ops/full", "-o", "yaml"]);
    expect(yaml.stdout).toStartWith("apiVersion: crontopus/v1\nkind: Job\n");
    writeFileSync(manifest, yaml.stdout);
    const r = await as(bob, ["jobs", "apply", "-f", manifest]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("job ops/full unchanged\n");
    const after = JSON.parse((await as(bob, ["jobs", "get", "ops/full", "--json"])).stdout);
    expect({ ...after, updated_at: 0, next_runs: 0 }).toEqual({ ...before, updated_at: 0, next_runs: 0 });
  });

  test("list pages with --limit, follows next_cursor with --all, and filters by label", async () => {
    const docs = [0, 1, 2, 3, 4].map((i) => `name: job-${i}\nnamespace: batch\nschedule: '@daily'\nlabels: {parity: ${i % 2 ? "odd" : "even"}}\n`);
    expect((await as(bob, ["jobs", "apply", "-f", "-"], docs.join("---\n"))).code).toBe(0);
    const page = await as(bob, ["jobs", "list", "-n", "batch", "--limit", "2"]);
    expect(lines(page.stdout)).toHaveLength(3);
    expect(page.stderr).toContain("--all");
    const all = await as(bob, ["jobs", "list", "-n", "batch", "--limit", "2", "--all"]);
    expect(lines(all.stdout).slice(1).map((l) => l.split(/\s+/)[1])).toEqual(["job-0", "job-1", "job-2", "job-3", "job-4"]);
    expect(all.stderr).toBe("");
    const odd = await as(bob, ["jobs", "list", "--label", "parity=odd", "-l", "parity", "--json"]);
    expect(JSON.parse(odd.stdout).jobs.map((j: { name: string }) => j.name)).toEqual(["job-1", "job-3"]);
  });

  test("charlie, in globex, cannot see acme's jobs", async () => {
    expect((await as(bob, ["jobs", "apply", "-f", "-"], "name: payroll\nnamespace: finance\nschedule: '@daily'\n")).code).toBe(0);
    const r = await as(charlie, ["jobs", "get", "finance/payroll"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: job finance/payroll not found\n");
    expect(lines((await as(charlie, ["jobs", "list"])).stdout)).toHaveLength(1);
  });
});

describe("tokens and namespaces", () => {
  test("tokens create prints the secret once; it works until revoked", async () => {
    const created = await as(alice, ["tokens", "create", "--name", "ci", "--scopes", "read", "--expires-in-days", "30"]);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^ctp_\S+$/);
    expect(created.stderr).toContain("not shown again");

    const who = JSON.parse((await run(["auth", "whoami", "--json"], { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: secret })).stdout);
    expect(who.scopes).toEqual(["read"]);
    const denied = await run(["namespaces", "create", "nope"], { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: secret });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe("error: this token lacks the 'write' scope\n");

    const list = await as(alice, ["tokens", "list"]);
    const row = lines(list.stdout).find((l) => /\sci\s/.test(l))!;
    expect(row).toContain(secret.slice(0, 8));
    const id = row.split(/\s+/)[0]!;
    expect((await as(alice, ["tokens", "revoke", id])).stdout).toBe(`token ${id} revoked\n`);
    expect((await run(["auth", "whoami"], { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: secret })).code).toBe(1);
  });

  test("namespaces are created, listed and deleted; one with jobs is refused", async () => {
    expect((await as(bob, ["namespaces", "create", "staging"])).stdout).toBe("namespace staging created\n");
    const list = await as(bob, ["namespaces", "list"]);
    expect(list.stdout).toMatch(/^staging\s+0\s/m);
    expect((await as(bob, ["namespaces", "delete", "staging"])).code).toBe(0);
    expect((await as(bob, ["namespaces", "list"])).stdout).not.toContain("staging");
    const docs = ["name: a\nnamespace: busy\nschedule: '@daily'\n", "name: b\nnamespace: busy\nschedule: '@daily'\n"];
    expect((await as(bob, ["jobs", "apply", "-f", "-"], docs.join("---\n"))).code).toBe(0);
    const busy = await as(bob, ["namespaces", "delete", "busy"]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("still has 2 job(s)");
  });
});

describe("admin commands on a data directory", () => {
  test("admin create-user and create-token make a token a server on that directory accepts", async () => {
    const dataDir = tempDir("crontopus-admin-");
    try {
      const user = await run(["admin", "create-user", "--data-dir", dataDir, "--email", "charlie@example.com", "--tenant", "globex"], {}, `${PASSWORD}\n`);
      expect(user.stderr).toBe("");
      expect(user.stdout).toBe("created user charlie@example.com (owner of globex)\n");
      const token = await run(["admin", "create-token", "--data-dir", dataDir, "--email", "charlie@example.com", "--tenant", "globex", "--name", "deploy"]);
      expect(token.code).toBe(0);
      const secret = token.stdout.trim();

      const server = await startTestServer({ CRONTOPUS_DATA_DIR: dataDir });
      try {
        const who = await run(["auth", "whoami", "--server", server.url, "--token", secret]);
        expect(who.code).toBe(0);
        expect(who.stdout).toMatch(/email:\s+charlie@example\.com/);
        expect(who.stdout).toMatch(/tenant:\s+globex/);
        expect(who.stdout).toMatch(/role:\s+owner/);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
