// The server as an operator starts it: `crontopus serve`, `migrate`, `config`, bad configuration.
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, cli, freePort, tempDir } from "./helpers";
import { Database } from "bun:sqlite";
import { VERSION } from "../src/version";

const procs: Bun.Subprocess[] = [];
afterAll(() => procs.forEach((p) => p.kill()));

async function waitHealthy(url: string, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url + "/health");
      if (r.ok) return r;
    } catch {}
    await Bun.sleep(50);
  }
  throw new Error(`server at ${url} did not become healthy`);
}

test("serve starts on an empty data directory, creates the database and answers /health", async () => {
  const dir = join(tempDir(), "fresh");
  const port = await freePort();
  const p = Bun.spawn([BUN, MAIN, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dir], {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "error" },
    stdout: "ignore",
    stderr: "pipe",
  });
  procs.push(p);
  const r = await waitHealthy(`http://127.0.0.1:${port}`);
  expect(await r.json()).toMatchObject({ status: "ok" });
  expect(await Bun.file(join(dir, "crontopus.db")).exists()).toBe(true);
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
});

test("a second SIGTERM while the server stops does not cut the stop short", async () => {
  const dir = join(tempDir(), "twice");
  const port = await freePort();
  const p = Bun.spawn([BUN, MAIN, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dir], {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "error" },
    stdout: "ignore",
    stderr: "pipe",
  });
  procs.push(p);
  await waitHealthy(`http://127.0.0.1:${port}`);
  // A request whose body is still on its way: the stop gives it time to finish, and meanwhile
  // the second signal comes (as from a supervisor that signals the whole process group).
  const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
  socket.write(`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":`);
  await Bun.sleep(100);
  p.kill("SIGTERM");
  await Bun.sleep(200);
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
  socket.end();
});

test("health answers for the server at CRONTOPUS_PORT: exit 0 while it runs, 1 once it is gone", async () => {
  const dir = join(tempDir(), "health");
  const port = await freePort();
  const p = Bun.spawn([BUN, MAIN, "serve", "--data-dir", dir], {
    env: { ...process.env, CRONTOPUS_PORT: String(port), CRONTOPUS_HOST: "127.0.0.1", CRONTOPUS_LOG_LEVEL: "error" },
    stdout: "ignore",
    stderr: "ignore",
  });
  procs.push(p);
  await waitHealthy(`http://127.0.0.1:${port}`);
  const ok = await cli(["health"], { CRONTOPUS_PORT: String(port) });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toBe(`ok: http://127.0.0.1:${port}/health (crontopus ${VERSION})\n`);
  const json = await cli(["health", "--port", String(port), "--json"]);
  expect(JSON.parse(json.stdout)).toEqual({ status: "ok", version: VERSION });
  p.kill("SIGTERM");
  await p.exited;
  const gone = await cli(["health"], { CRONTOPUS_PORT: String(port) });
  expect(gone.code).toBe(1);
  expect(gone.stderr).toBe(`error: cannot reach the Crontopus server at http://127.0.0.1:${port}/health (ECONNREFUSED)\n`);
});

test("an --env-file sets configuration, and flags override it", async () => {
  const dir = tempDir();
  const port = await freePort();
  const envFile = join(dir, "crontopus.env");
  writeFileSync(envFile, `CRONTOPUS_PORT=1\nCRONTOPUS_DATA_DIR=${dir}/d\nCRONTOPUS_BASE_URL=https://cron.example.com\n`);
  const r = await cli(["config", "--env-file", envFile, "--json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ CRONTOPUS_PORT: 1, CRONTOPUS_BASE_URL: "https://cron.example.com" });
  const p = Bun.spawn([BUN, MAIN, "serve", "--env-file", envFile, "--port", String(port), "--host", "127.0.0.1"], {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "error" },
    stdout: "ignore",
    stderr: "ignore",
  });
  procs.push(p);
  await waitHealthy(`http://127.0.0.1:${port}`);
  expect(await Bun.file(join(dir, "d", "crontopus.db")).exists()).toBe(true);
  p.kill();
});

test("invalid configuration stops start-up with one clear line", async () => {
  const r = await cli(["serve", "--data-dir", tempDir()], { CRONTOPUS_PORT: "eighty" });
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain("CRONTOPUS_PORT");
});

test("migrate applies migrations alone, and refuses a database from a newer Crontopus", async () => {
  const dir = tempDir();
  const first = await cli(["migrate", "--data-dir", dir]);
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("applied 0001_init");
  expect((await cli(["migrate", "--data-dir", dir])).stdout).toContain("up to date");
  const db = new Database(join(dir, "crontopus.db"));
  db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
  db.close();
  const r = await cli(["migrate", "--data-dir", dir]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: database schema version 999 is newer/);
});

test("admin create-user refuses to make an owner-less tenant, and joins an existing one in the role asked for", async () => {
  const dir = tempDir();
  const r = await cli(["admin", "create-user", "--data-dir", dir, "--email", "m@example.com", "--password", "long-enough-pw", "--tenant", "newco", "--role", "member"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("tenant newco does not exist");
  const ok = await cli(["admin", "create-user", "--data-dir", dir, "--email", "o@example.com", "--password", "long-enough-pw", "--tenant", "newco"]);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain("owner of newco");
  // The refusal left no user behind: the same user now joins the tenant, in the role asked for.
  const member = await cli(["admin", "create-user", "--data-dir", dir, "--email", "m@example.com", "--password", "long-enough-pw", "--tenant", "newco", "--role", "member"]);
  expect(member.stderr).toBe("");
  expect(member.stdout).toBe("created user m@example.com (member of newco)\n");
  const db = new Database(join(dir, "crontopus.db"));
  const roles = db.query("SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id ORDER BY u.email").all();
  db.close();
  expect(roles).toEqual([
    { email: "m@example.com", role: "member" },
    { email: "o@example.com", role: "owner" },
  ]);
});

test("an unknown command is a usage error (exit 2), help is exit 0", async () => {
  const r = await cli(["frobnicate"]);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  const h = await cli(["--help"]);
  expect(h.code).toBe(0);
  expect(h.stdout).toContain("serve");
});

test("an embedded server that cannot listen gives its data directory back: the next start on it works in the same process", async () => {
  const { startServer } = await import("../src/server");
  const { loadConfig } = await import("../src/config");
  const { createLogger } = await import("../src/log");
  const dir = tempDir();
  const taken = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("someone else") });
  const config = (port: number) => loadConfig({ CRONTOPUS_PORT: String(port), CRONTOPUS_HOST: "127.0.0.1", CRONTOPUS_DATA_DIR: dir, CRONTOPUS_LOG_LEVEL: "error" });
  const log = createLogger("silent");
  try {
    await expect(startServer(config(taken.port!), { log })).rejects.toThrow();
    // Before the fix the lock stayed taken: "another Crontopus is running on this data directory".
    const server = await startServer(config(await freePort()), { log });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    await server.stop();
  } finally {
    taken.stop(true);
  }
});
