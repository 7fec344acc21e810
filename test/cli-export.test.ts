// `crontopus jobs export` as a user runs it, against a live server: alice exports acme's jobs into
// a directory for a GitOps repository, the files read back as the same jobs, a second export
// changes nothing, a hand edit is not overwritten without --force. charlie (globex) sees none of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { parseJob, parseJobDocuments, withDefaults, type JobSpec } from "../src/jobs/manifest";

let s: TestServer;
let alice: Persona, charlie: Persona;
let home: string;

const JOBS: Record<string, Record<string, unknown>> = {
  "default/db-backup": { schedule: "0 2 * * *", command: "pg_dump app > /backup/app.sql", labels: { env: "prod" } },
  "123/yes": { schedule: "@daily", timezone: "Asia/Kolkata", labels: { on: "no", n: "007" }, env: { MULTI: "one\ntwo\n" }, command: "echo '#1: *ok*'" },
  "staging/null": { schedule: "@every 5m", agent: { selector: { role: "db", "topology/zone": "eu-1" } }, annotations: { doc: "line\n  indented\n" }, alerts: { after: 2, channels: ["ops"] } },
};

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  home = tempDir("crontopus-export-");
  for (const [ref, job] of Object.entries(JOBS)) {
    const r = await s.api(`/api/v1/jobs/${ref}`, { method: "PUT", token: alice.token, json: job });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await s.close();
  rmSync(home, { recursive: true, force: true });
});

const as = (p: Persona, args: string[]) =>
  cli(args, { HOME: home, XDG_CONFIG_HOME: "", CRONTOPUS_CONFIG: join(home, "unused.json"), CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: p.token });

const fieldsOf = (doc: unknown): JobSpec => withDefaults(parseJob(doc).fields);

describe("jobs export", () => {
  test("writes one manifest per job at DIR/<namespace>/<name>.yaml that reads back as the job", async () => {
    const dir = join(home, "repo");
    const r = await as(alice, ["jobs", "export", "--dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(dir, "staging/null.yaml")}`);
    expect(r.stdout).toContain("3 jobs exported");
    for (const ref of Object.keys(JOBS)) {
      const docs = parseJobDocuments(readFileSync(join(dir, `${ref}.yaml`), "utf8"));
      expect(docs).toHaveLength(1);
      const api = await (await s.api(`/api/v1/jobs/${ref}`, { token: alice.token })).json();
      expect(fieldsOf((docs[0] as { value: unknown }).value)).toEqual(fieldsOf(api));
    }
    // Applied back, every job is unchanged.
    const apply = await as(alice, ["jobs", "apply", "-f", dir]);
    expect(apply.code).toBe(0);
    expect(apply.stdout.trim().split("\n").every((l) => l.endsWith(" unchanged"))).toBe(true);
  });

  test("a second export leaves the files alone; a hand-edited file stops it until --force", async () => {
    const dir = join(home, "again");
    expect((await as(alice, ["jobs", "export", "--dir", dir])).code).toBe(0);
    const again = await as(alice, ["jobs", "export", "--dir", dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`unchanged ${join(dir, "default/db-backup.yaml")}`);

    const file = join(dir, "default/db-backup.yaml");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original + "# edited by hand\n");
    const refused = await as(alice, ["jobs", "export", "--dir", dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--force");
    expect(readFileSync(file, "utf8")).toBe(original + "# edited by hand\n");

    const forced = await as(alice, ["jobs", "export", "--dir", dir, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`overwrote ${file}`);
    expect(readFileSync(file, "utf8")).toBe(original);
  });

  test("--namespace writes only that namespace; --json lists the files", async () => {
    const dir = join(home, "staging-only");
    const r = await as(alice, ["jobs", "export", "--dir", dir, "--namespace", "staging", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ files: [{ file: join(dir, "staging/null.yaml"), action: "wrote" }] });
    expect(existsSync(join(dir, "default"))).toBe(false);
  });

  test("charlie's export holds none of acme's jobs", async () => {
    const dir = join(home, "charlie");
    const r = await as(charlie, ["jobs", "export", "--dir", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("0 jobs exported");
    expect(existsSync(join(dir, "default"))).toBe(false);
  });

  test("GET /api/v1/jobs/export answers {files: [{path, content}]} ordered by path", async () => {
    const r = await s.api("/api/v1/jobs/export", { token: alice.token });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { files: { path: string; content: string }[] };
    expect(body.files.map((f) => f.path)).toEqual(["123/yes.yaml", "default/db-backup.yaml", "staging/null.yaml"]);
    expect(body.files[0]!.content).toStartWith("apiVersion: crontopus/v1\n");
    expect((await s.api("/api/v1/jobs/export")).status).toBe(401);
  });
});
