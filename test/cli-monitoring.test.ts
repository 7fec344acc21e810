// The monitoring side of the CLI as cron and people use it: real subprocesses against a live
// server. alice owns acme and wraps her cron jobs with `crontopus exec` or pings them with
// `crontopus ping`; charlie owns globex and must never see acme's runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, cli, freePort, MAIN, persona, startTestServer, tempDir, TestClock, type Persona, type TestServer } from "./helpers";
import { RECEIVER_ENV, startReceiver, until } from "./receiver";

let s: TestServer;
let alice: Persona, charlie: Persona;
let home: string;
/** The server's clock, the real one moved ahead by hand: timeouts the server finds follow it, not the machine's load. */
const clock = new TestClock({ running: true });

beforeAll(async () => {
  s = await startTestServer({ ...RECEIVER_ENV }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  home = tempDir("crontopus-cli-monitoring-");
});
afterAll(async () => {
  await s.close();
  rmSync(home, { recursive: true, force: true });
});

/** The CLI with nothing inherited that could point it at another server or config. */
const isolated = { HOME: "", XDG_CONFIG_HOME: "", CRONTOPUS_URL: "", CRONTOPUS_TOKEN: "", CRONTOPUS_CONFIG: "" };
function run(args: string[], env: Record<string, string> = {}, stdin?: string) {
  return cli(args, { ...isolated, HOME: home, CRONTOPUS_CONFIG: join(home, "unused.json"), ...env }, stdin);
}
const as = (p: Persona, args: string[], stdin?: string) => run(args, { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: p.token }, stdin);

const lines = (text: string) => text.split("\n").filter(Boolean);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Job {
  id: string;
  ping_url: string;
  token: string;
}

async function createJob(name: string): Promise<Job> {
  const r = await s.api(`/api/v1/jobs/default/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
  expect(r.status).toBe(201);
  const job = (await r.json()) as { id: string; ping_url: string };
  return { ...job, token: job.ping_url.split("/ping/")[1]! };
}

/** A job's runs, newest first, with their output. */
async function runsOf(name: string): Promise<any[]> {
  const r = await s.api(`/api/v1/jobs/default/${name}/runs?output=true`, { token: alice.token });
  return ((await r.json()) as { runs: any[] }).runs;
}

/** Waits until the engine has applied the job's check-ins into `n` runs, none of them still running. */
const finishedRuns = (name: string, n: number) =>
  until(async () => {
    const rs = await runsOf(name);
    return rs.length === n && rs.every((r) => r.status !== "running") ? rs : null;
  });

/** Check-ins the server committed for a job, applied or not (each is committed before its ping is answered). */
const checkinCount = (jobId: string) => s.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM checkins WHERE job_id = ?").get(jobId)!.n;

describe("ping", () => {
  test("a ping by URL with --body-file is a successful run with the file as its output", async () => {
    const job = await createJob("backup");
    const file = join(home, "backup.log");
    writeFileSync(file, "copied 42 files\n");
    const r = await run(["ping", job.ping_url, "--body-file", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const [only] = await finishedRuns("backup", 1);
    expect(only).toMatchObject({ status: "success", exit_code: 0, output: "copied 42 files\n" });
    expect(only.source).toContain("crontopus/");
  });

  test("a bare token goes to --server (or CRONTOPUS_URL); start and finish pair by --run-id into one run with a duration", async () => {
    const job = await createJob("report");
    const rid = crypto.randomUUID();
    expect((await run(["ping", job.token, "start", "--run-id", rid, "--server", s.url])).code).toBe(0);
    clock.advance(120);
    const finish = await run(["ping", job.token, "4", "--run-id", rid, "--body-file", "-"], { CRONTOPUS_URL: s.url }, "disk full\n");
    expect(finish.stderr).toBe("");
    expect(finish.code).toBe(0);
    const [only] = await finishedRuns("report", 1);
    expect(only).toMatchObject({ status: "failed", exit_code: 4, run_id: rid, output: "disk full\n" });
    expect(only.duration_ms).toBeGreaterThanOrEqual(120);
  });

  test("an exit code outside 0-255, an unknown kind or a malformed run id is a usage error and sends nothing", async () => {
    const job = await createJob("usage");
    for (const args of [[job.ping_url, "256"], [job.ping_url, "finished"], [job.ping_url, "--run-id", "not-a-uuid"]]) {
      const r = await run(["ping", ...args]);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/^error: .*\(see --help\)$/)]);
    }
    expect(checkinCount(job.id)).toBe(0);
    expect((await run(["ping", job.ping_url, "255"])).code).toBe(0);
    expect(checkinCount(job.id)).toBe(1);
  });

  test("a ping to an unknown token exits 1 with one line, and so does an unreachable server", async () => {
    const unknown = await run(["ping", `${s.url}/ping/no-such-token`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`error: the server at ${s.url} knows no job with this ping URL (404)\n`);

    const port = await freePort();
    const down = await run(["ping", "some-token", "--server", `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`error: cannot reach the Crontopus server at http://127.0.0.1:${port} (3 tries)\n`);
  });

  test("a bare token with no server anywhere says how to set one", async () => {
    const r = await run(["ping", "some-token"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: no server: pass --server, set CRONTOPUS_URL or run 'crontopus auth login'\n");
  });
});

describe("exec", () => {
  test("a failing command's output streams through and its exit code is ours; the server has a failed run with code, output and duration", async () => {
    const job = await createJob("etl");
    const r = await run(["exec", "--ping-url", job.ping_url, "--", "sh", "-c", "echo hello; sleep 0.3; echo oops >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("hello\n");
    expect(r.stderr).toBe("oops\n");
    // One run: the start was taken over by its finish.
    const [only] = await finishedRuns("etl", 1);
    expect(only).toMatchObject({ status: "failed", exit_code: 3 });
    expect(only.output).toContain("hello\n");
    expect(only.output).toContain("oops\n");
    expect(only.run_id).toMatch(UUID);
    expect(only.duration_ms).toBeGreaterThanOrEqual(300);
    expect(only.started_at).not.toBeNull();
  });

  test("the command reads our stdin, and a command that exits 0 is a success", async () => {
    const job = await createJob("stdin");
    const r = await run(["exec", "--ping-url", job.ping_url, "--", "cat"], {}, "rows from stdin\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("rows from stdin\n");
    const [only] = await finishedRuns("stdin", 1);
    expect(only).toMatchObject({ status: "success", exit_code: 0, output: "rows from stdin\n" });
  });

  test("with the server unreachable the command still runs and its exit code is still ours", async () => {
    const port = await freePort();
    const marker = join(home, "ran-without-server");
    const r = await run(["exec", "--ping-url", `http://127.0.0.1:${port}/ping/abc`, "--", "sh", "-c", `touch '${marker}'; exit 5`]);
    expect(r.code).toBe(5);
    expect(existsSync(marker)).toBe(true);
    expect(lines(r.stderr)).toEqual([
      `warning: could not report the start: cannot reach the Crontopus server at http://127.0.0.1:${port}`,
      `warning: could not report the result: cannot reach the Crontopus server at http://127.0.0.1:${port} (3 tries)`,
    ]);
  });

  test("--timeout kills the command and what it started after that long, exits 124 and reports a failure", async () => {
    const job = await createJob("stuck");
    const orphan = join(home, "orphan-survived");
    const started = Date.now();
    const r = await run(["exec", "--timeout", "1s", "--ping-url", job.ping_url, "--", "sh", "-c", `(sleep 1.5; touch '${orphan}') & sleep 5`]);
    const took = Date.now() - started;
    expect(r.code).toBe(124);
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(3000);
    expect(r.stderr).toContain("warning: command timed out after 1s; killed\n");
    const [only] = await finishedRuns("stuck", 1);
    expect(only).toMatchObject({ status: "failed", exit_code: 124 });
    expect(only.output).toContain("timed out after 1s");
    // The background child died with its process group.
    await Bun.sleep(Math.max(0, 2200 - (Date.now() - started)));
    expect(existsSync(orphan)).toBe(false);
  });

  test("a command that does not exist exits 127 and is reported as a failure saying so", async () => {
    const job = await createJob("typo");
    const r = await run(["exec", "--ping-url", job.ping_url, "--", "no-such-command-xyz", "--flag"]);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe("crontopus: no-such-command-xyz: command not found\n");
    const [only] = await finishedRuns("typo", 1);
    expect(only).toMatchObject({ status: "failed", exit_code: 127 });
    expect(only.output).toContain("no-such-command-xyz: command not found");
  });

  test("a command killed by a signal exits 128+N and is reported as a failure with that code", async () => {
    const job = await createJob("killed");
    const r = await run(["exec", "--ping-url", job.ping_url, "--", "sh", "-c", "echo going; kill -TERM $$"]);
    expect(r.code).toBe(143);
    const [only] = await finishedRuns("killed", 1);
    expect(only).toMatchObject({ status: "failed", exit_code: 143 });
    expect(only.output).toBe("going\ncrontopus: killed by SIGTERM\n");
  });

  test("when our reader goes away (| head) the command still runs to its end and is reported", async () => {
    const job = await createJob("piped");
    const proc = Bun.spawn(["sh", "-c", `"${BUN}" "${MAIN}" exec --ping-url ${job.ping_url} -- seq 1 200000 | head -n 1`], {
      env: { ...process.env, ...isolated },
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
    try {
      expect(await new Response(proc.stdout).text()).toBe("1\n");
      expect(await proc.exited).toBe(0);
    } finally {
      // A hung exec would outlive the test otherwise.
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {}
    }
    const [only] = await finishedRuns("piped", 1);
    expect(only).toMatchObject({ status: "success", exit_code: 0 });
    expect(only.output).toEndWith("199999\n200000\n");
    expect(only.output.length).toBeLessThanOrEqual(10 * 1024);
  });

  test("no command, no --ping-url or an unknown flag before the command is a usage error and runs nothing", async () => {
    const marker = join(home, "should-not-run");
    for (const args of [
      ["exec", "--ping-url", `${s.url}/ping/x`],
      ["exec", "--", "touch", marker],
      ["exec", "--ping-url", `${s.url}/ping/x`, "--timeuot", "1s", "--", "touch", marker],
      ["exec", "--ping-url", `${s.url}/ping/x`, "--timeout", "soon", "--", "touch", marker],
    ]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
    }
    expect(existsSync(marker)).toBe(false);
  });
});

describe("runs and logs", () => {
  let nightly: Job;
  beforeAll(async () => {
    nightly = await createJob("nightly");
    await run(["ping", nightly.ping_url, "--body-file", "-"], {}, "first night: ok\n");
    await run(["exec", "--ping-url", nightly.ping_url, "--", "sh", "-c", "echo second night; sleep 0.2; exit 2"]);
    await finishedRuns("nightly", 2);
  });

  test("runs list shows a table newest first, and filters by job and status", async () => {
    const r = await as(alice, ["runs", "list", "--job", "default/nightly"]);
    expect(r.code).toBe(0);
    const [header, ...rows] = lines(r.stdout);
    expect(header).toMatch(/^STARTED\s+JOB\s+STATUS\s+EXIT\s+DURATION\s+RUN ID$/);
    expect(rows).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+default\/nightly\s+failed\s+2\s+(\d+ms|\d\.\ds)\s+\d+$/),
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+default\/nightly\s+success\s+0\s+-\s+\d+$/),
    ]);
    const failed = await as(alice, ["runs", "list", "--status", "failed", "--json"]);
    const page = JSON.parse(failed.stdout);
    expect(page.runs.length).toBeGreaterThan(0);
    expect(page.runs.every((x: { status: string }) => x.status === "failed")).toBe(true);
    expect(page.runs.map((x: { job: string }) => x.job)).toContain("default/nightly");
  });

  test("runs list --since takes a duration ago; --limit pages with a note", async () => {
    const recent = JSON.parse((await as(alice, ["runs", "list", "--job", "nightly", "--since", "10m", "--json"])).stdout);
    expect(recent.runs).toHaveLength(2);
    const future = JSON.parse((await as(alice, ["runs", "list", "--job", "nightly", "--since", new Date(Date.now() + 60_000).toISOString(), "--json"])).stdout);
    expect(future.runs).toHaveLength(0);
    const one = await as(alice, ["runs", "list", "--job", "nightly", "--limit", "1"]);
    expect(lines(one.stdout)).toHaveLength(2);
    expect(one.stderr).toContain("more runs follow");
    expect((await as(alice, ["runs", "list", "--limit", "0"])).code).toBe(2);
  });

  test("runs get shows a run's fields and its output; another tenant's run is not found", async () => {
    const [failed] = JSON.parse((await as(alice, ["runs", "list", "--job", "nightly", "--status", "failed", "--json"])).stdout).runs;
    const r = await as(alice, ["runs", "get", String(failed.id)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^job:\s+default\/nightly$/m);
    expect(r.stdout).toMatch(/^status:\s+failed$/m);
    expect(r.stdout).toMatch(/^exit code:\s+2$/m);
    expect(r.stdout).toMatch(/^duration:\s+(\d+ms|\d\.\ds)$/m);
    expect(r.stdout).toMatch(/^rid:\s+[0-9a-f-]{36}$/m);
    expect(r.stdout).toEndWith("--- output ---\nsecond night\n");
    expect(JSON.parse((await as(alice, ["runs", "get", String(failed.id), "--json"])).stdout)).toMatchObject({ id: failed.id, output: "second night\n" });

    const hidden = await as(charlie, ["runs", "get", String(failed.id)]);
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toBe(`error: run ${failed.id} not found\n`);
  });

  test("logs prints the runs' outputs oldest first, each under a header with time, status, exit code and duration", async () => {
    const r = await as(alice, ["logs", "default/nightly"]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      expect.stringMatching(/^=== \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}success {2}exit 0 {2}run \d+$/),
      "first night: ok",
      expect.stringMatching(/^=== \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC {2}failed {2}exit 2 {2}(\d+ms|\d\.\ds) {2}run \d+$/),
      "second night",
    ]);
    const last = await as(alice, ["logs", "nightly", "--limit", "1"]);
    expect(lines(last.stdout)).toEqual([expect.stringContaining("failed"), "second night"]);
    const missing = await as(alice, ["logs", "default/nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: job default/nope not found\n");
  });

  test("logs --follow prints new runs as they finish, and open runs once they finish or time out", async () => {
    const r = await s.api("/api/v1/jobs/default/followed", { method: "PUT", token: alice.token, json: { schedule: "@every 1h", timeout: "4s" } });
    const { ping_url } = (await r.json()) as { ping_url: string };
    await run(["ping", ping_url, "--body-file", "-"], {}, "before following\n");
    await finishedRuns("followed", 1);
    const proc = Bun.spawn([BUN, MAIN, "logs", "default/followed", "--follow"], {
      env: { ...process.env, NO_COLOR: "1", ...isolated, CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: alice.token },
      stdout: "pipe",
      stderr: "pipe",
    });
    let out = "";
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        out += decoder.decode(value);
      }
    })();
    try {
      await until(() => out.includes("before following"), 5000);
      // Two runs start and are seen open by a poll: one finishes, the other never does and times out.
      const [slow, stuck] = [crypto.randomUUID(), crypto.randomUUID()];
      expect((await run(["ping", ping_url, "start", "--run-id", slow])).code).toBe(0);
      expect((await run(["ping", ping_url, "start", "--run-id", stuck])).code).toBe(0);
      // At least one poll (every 2 s) sees both open: neither is printed yet.
      await Bun.sleep(2500);
      expect(lines(out)).toHaveLength(2);
      expect((await run(["ping", ping_url, "0", "--run-id", slow, "--body-file", "-"], {}, "slow one done\n")).code).toBe(0);
      expect((await run(["ping", ping_url, "7", "--run-id", crypto.randomUUID(), "--body-file", "-"], {}, "quick failure\n")).code).toBe(0);
      await until(() => out.includes("quick failure"), 5000);
      // The stuck run's 4 s timeout passes on the server's clock (2.5 s of it moved already).
      clock.advance(1_500);
      await until(() => out.includes("timeout"), 8000);
      expect(lines(out)).toEqual([
        expect.stringMatching(/^=== .* success {2}exit 0 {2}run \d+$/),
        "before following",
        expect.stringMatching(/^=== .* success {2}exit 0 {2}\d\.\ds {2}run \d+$/),
        "slow one done",
        expect.stringMatching(/^=== .* failed {2}exit 7 {2}run \d+$/),
        "quick failure",
        expect.stringMatching(/^=== .* timeout {2}4\.0s {2}run \d+ {2}\(no finish within the timeout of 4s\)$/),
      ]);
    } finally {
      proc.kill("SIGINT");
      await proc.exited;
    }
  }, 20_000);
});

describe("channels", () => {
  const hook = startReceiver();
  afterAll(() => hook.stop());

  test("alice adds a webhook channel, lists it with the secret masked, tests it and removes it by name", async () => {
    // The other tests' channels, columns squeezed: the table widens to fit a new name.
    const squeeze = (row: string) => row.split(/\s+/).join(" ");
    const others = lines((await as(alice, ["channels", "list"])).stdout).slice(1).map(squeeze);
    const add = await as(alice, ["channels", "add", "--name", "ops-hook", "--type", "webhook", "--url", `${hook.url}/alerts`, "--secret", "s3cret", "--config", '{"headers": {"X-Team": "ops"}}']);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const id = /^channel ops-hook created \((\S+)\)$/.exec(add.stdout.trim())![1]!;

    const list = await as(alice, ["channels", "list"]);
    const [header, ...rows] = lines(list.stdout);
    expect(header).toMatch(/^NAME\s+TYPE\s+TARGET\s+ID$/);
    expect(rows.filter((r) => !others.includes(squeeze(r)))).toEqual([expect.stringMatching(new RegExp(`^ops-hook\\s+webhook\\s+${hook.url}/alerts\\s+${id}$`))]);
    expect(rows).toHaveLength(others.length + 1);
    const json = JSON.parse((await as(alice, ["channels", "list", "--json"])).stdout).channels.find((c: { name: string }) => c.name === "ops-hook");
    expect(json.config.headers).toEqual({ "X-Team": "ops" });
    expect(json.config.secret).toBeString();
    expect(json.config.secret).not.toBe("s3cret");
    expect(lines((await as(charlie, ["channels", "list"])).stdout)).toHaveLength(1);

    const tested = await as(alice, ["channels", "test", "ops-hook"]);
    expect(tested.code).toBe(0);
    expect(tested.stdout).toBe("test message sent to ops-hook (HTTP 200)\n");
    const got = hook.received.at(-1)!;
    expect(got.path).toBe("/alerts");
    expect(got.headers.get("x-crontopus-event")).toBe("test");
    expect(got.headers.get("x-team")).toBe("ops");
    expect(got.headers.get("x-crontopus-signature")).toStartWith("sha256=");

    expect((await as(alice, ["channels", "remove", "ops-hook"])).stdout).toBe("channel ops-hook removed\n");
    expect(lines((await as(alice, ["channels", "list"])).stdout).slice(1).map(squeeze)).toEqual(others);
    const again = await as(alice, ["channels", "remove", id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: channel ${id} not found\n`);
  });

  test("a failing receiver makes channels test exit 1 naming the HTTP status", async () => {
    const add = await as(alice, ["channels", "add", "--name", "flaky", "--type", "webhook", "--url", `${hook.url}/flaky`]);
    const id = /\((\S+)\)/.exec(add.stdout)![1]!;
    hook.state.status = 500;
    try {
      const r = await as(alice, ["channels", "test", id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith("error: test message to flaky failed (HTTP 500)");
      expect(lines(r.stderr)).toHaveLength(1);
    } finally {
      hook.state.status = 200;
    }
  });

  test("flags build the config: --to repeats; a flag the type does not take, bad --config JSON and server refusals fail", async () => {
    const email = await as(alice, ["channels", "add", "--name", "oncall-mail", "--type", "email", "--to", "a@acme.test", "--to", "b@acme.test", "--json"]);
    expect(email.code).toBe(0);
    expect(JSON.parse(email.stdout)).toMatchObject({ name: "oncall-mail", type: "email", config: { to: ["a@acme.test", "b@acme.test"] } });
    expect((await as(alice, ["channels", "list"])).stdout).toMatch(/^oncall-mail\s+email\s+a@acme\.test, b@acme\.test\s/m);

    const pd = await as(alice, ["channels", "add", "--name", "pager", "--type", "pagerduty", "--routing-key", "R0UT1NG", "--config", '{"severity": "error"}', "--json"]);
    expect(JSON.parse(pd.stdout).config).toMatchObject({ severity: "error" });

    const secretOnSlack = await as(alice, ["channels", "add", "--name", "s", "--type", "slack", "--url", "https://hooks.slack.test/x", "--secret", "x"]);
    expect(secretOnSlack.code).toBe(2);
    const badJson = await as(alice, ["channels", "add", "--name", "j", "--type", "webhook", "--config", "{url:"]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toBe("error: --config: not valid JSON (see --help)\n");
    const refused = await as(alice, ["channels", "add", "--name", "ftp", "--type", "webhook", "--url", "ftp://example.test/"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toStartWith("error: config.url: must be an http(s) URL");
    const taken = await as(alice, ["channels", "add", "--name", "oncall-mail", "--type", "email", "--to", "c@acme.test"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toBe("error: channel oncall-mail already exists\n");
  });
});
