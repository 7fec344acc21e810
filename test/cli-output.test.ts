// What the CLI prints and how it exits, as alice runs it: real subprocesses against a live server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona;
let home: string;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  home = tempDir("crontopus-cli-out-");
});
afterAll(async () => {
  await s.close();
  rmSync(home, { recursive: true, force: true });
});

const as = (args: string[], stdin?: string) =>
  cli(args, { HOME: home, XDG_CONFIG_HOME: "", CRONTOPUS_CONFIG: join(home, "unused.json"), CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: alice.token }, stdin);

describe("--json prints the API's object", () => {
  test("tokens list, namespaces list and tenants list print what the API answers", async () => {
    for (const [args, path, key] of [
      [["tokens", "list", "--json"], "/api/v1/tokens", "tokens"],
      [["namespaces", "list", "--json"], "/api/v1/namespaces", "namespaces"],
      [["tenants", "list", "--json"], "/api/v1/tenants", "tenants"],
    ] as const) {
      const r = await as([...args]);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: "" });
      const printed = JSON.parse(r.stdout) as Record<string, unknown[]>;
      const api = (await (await s.api(path, { token: alice.token })).json()) as Record<string, unknown[]>;
      expect(Object.keys(printed)).toEqual([key]);
      expect(printed[key]!.length).toBe(api[key]!.length);
    }
  }, 60_000);
});

describe("a malformed flag value is a usage error", () => {
  test("exits 2 with one line on stderr, before anything is sent", async () => {
    const bad = [
      ["tokens", "create", "--name", "ci", "--scopes", "read,sudo"],
      ["tokens", "create", "--name", "ci", "--expires-in-days", "0"],
      ["tokens", "create", "--name", "ci", "--expires-in-days", "soon"],
      ["jobs", "list", "--status", "sleeping"],
      ["jobs", "list", "--limit", "many"],
      ["runs", "list", "--status", "sleeping"],
      ["runs", "list", "--since", "yesterday-ish"],
      ["runs", "list", "--limit", "0"],
      ["jobs", "get", "a/b/c"],
    ];
    for (const args of bad) {
      const r = await as(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.split("\n").filter(Boolean).length).toBe(1);
      expect(r.stderr).toMatch(/^error: .* \(see --help\)\n$/);
    }
    const tokens = (await (await s.api("/api/v1/tokens", { token: alice.token })).json()) as { tokens: { name: string }[] };
    expect(tokens.tokens.map((t) => t.name)).not.toContain("ci");
  }, 120_000);
});

describe("jobs apply", () => {
  const job = (name: string, schedule = "30 2 * * *") => `apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: ${name}\n  namespace: ops\nspec:\n  schedule: "${schedule}"\n`;

  test("of an unchanged manifest says unchanged and leaves updated_at alone", async () => {
    const file = join(home, "nightly.yaml");
    writeFileSync(file, job("nightly"));
    expect((await as(["jobs", "apply", "-f", file])).stdout).toBe("job ops/nightly created\n");
    const before = (await (await s.api("/api/v1/jobs/ops/nightly", { token: alice.token })).json()) as { updated_at: string };
    // updated_at has millisecond precision: make sure a write now would show.
    await Bun.sleep(5);
    const again = await as(["jobs", "apply", "-f", file]);
    expect(again).toMatchObject({ code: 0, stdout: "job ops/nightly unchanged\n" });
    const after = (await (await s.api("/api/v1/jobs/ops/nightly", { token: alice.token })).json()) as { updated_at: string };
    expect(after.updated_at).toBe(before.updated_at);

    writeFileSync(file, job("nightly", "45 2 * * *"));
    expect((await as(["jobs", "apply", "-f", file])).stdout).toBe("job ops/nightly configured\n");
    const changed = (await (await s.api("/api/v1/jobs/ops/nightly", { token: alice.token })).json()) as { updated_at: string };
    expect(changed.updated_at > before.updated_at).toBe(true);
  }, 60_000);

  test("a 3-document file with one broken document applies the other two and reports 1 of 3", async () => {
    const file = join(home, "three.yaml");
    writeFileSync(file, [job("first"), 'apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  schedule: "0 * * * *\n', job("third")].join("---\n"));
    const r = await as(["jobs", "apply", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("job ops/first created\njob ops/third created\n");
    const errors = r.stderr.split("\n").filter(Boolean);
    expect(errors[0]).toMatch(/three\.yaml \(document 2\): invalid YAML at line \d+/);
    expect(errors.at(-1)).toBe("error: 1 of 3 job documents failed");
  }, 60_000);
});
