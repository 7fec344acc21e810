// The agent end to end on this machine's real cron: a live server, an enrollment token,
// `crontopus agent enroll` and `agent run --once` as subprocesses, the real `crontab` binary,
// and the managed line run through /bin/sh -c with cron's minimal environment, as cron would.
// The agent runs with an empty environment and `--config`, exactly as its systemd unit starts
// it (no User=, so no $USER, $LOGNAME or $HOME). The jobs run as dedicated users (spec.user,
// or an agent running as that user), so the tests never touch root's crontab.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BUN, cli, MAIN, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { RECEIVER_ENV, startReceiver, until } from "./receiver";
import { bare, crontabOf, ensureUser, installCrontab, lockUser, managedLines } from "./crontab-users";
import { story } from "./steps";
import { AgentClient, syncOnce } from "../agent/agent";
import { currentAccount, detectHostCron, SystemCrontab } from "../agent/host";

const root = process.getuid?.() === 0;
const hasCrontab = spawnSync("sh", ["-c", "command -v crontab"]).status === 0;
const USER = "crontopus-e2e";
/** What cron hands to the shell for an entry line: the command after the five fields, "%" rules applied. */
function cronCommand(line: string): string {
  const m = /^\s*(\S+\s+){5}(.*)$/.exec(line);
  if (!m) throw new Error(`not an entry line: ${line}`);
  let out = "";
  const cmd = m[2]!;
  for (let i = 0; i < cmd.length; i++) {
    if (cmd[i] === "\\" && cmd[i + 1] === "%") {
      out += "%";
      i++;
    } else if (cmd[i] === "%") break; // the rest would be stdin
    else out += cmd[i];
  }
  return out;
}

/**
 * Runs a command line as cron does: `/bin/sh -c` with cron's minimal environment, as the
 * crontab's user when they can reach the binary. Asynchronous: the server runs in this process.
 */
async function runAsCron(command: string, user: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const env = ["SHELL=/bin/sh", "PATH=/usr/bin:/bin", "HOME=/nonexistent", `LOGNAME=${user}`];
  const canRun = spawnSync("runuser", ["-u", user, "--", "test", "-x", BUN, "-a", "-r", MAIN]).status === 0;
  const argv = canRun ? ["runuser", "-u", user, "--", "env", "-i", ...env, "/bin/sh", "-c", command] : ["env", "-i", ...env, "/bin/sh", "-c", command];
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  const [stdout, stderr, status] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { status, stdout, stderr };
}

const USER_LINES = [
  "# bob's own jobs: the agent must keep these byte for byte",
  'MAILTO=""',
  "",
  "17 3 * * *\t/usr/bin/true  # legacy report",
  "@reboot /bin/echo booted",
  "",
].join("\n");

let s: TestServer;
let alice: Persona;
let dir: string;
let env: Record<string, string>;
let agentId: string;
let port: number;
let unlock = () => {};
const receiver = startReceiver();

const agent = (args: string[]) => (args[0] === "enroll" ? cli(["agent", ...args], env) : bare(["agent", ...args, "--config", env.CRONTOPUS_AGENT_CONFIG!]));
const api = (path: string, init: RequestInit & { json?: unknown } = {}) => s.api(path, { token: alice.token, ...init });

const step = story();

describe.skipIf(!root || !hasCrontab)("agent end to end (real crontab)", () => {
  beforeAll(async () => {
    unlock = await lockUser(USER);
    ensureUser(USER);
    installCrontab(USER, USER_LINES);
    s = await startTestServer({ ...RECEIVER_ENV });
    port = s.port;
    alice = await persona(s.db, "alice", "acme", "owner");
    dir = tempDir("crontopus-agent-e2e-");
    chmodSync(dir, 0o711); // as /var/lib is: the job's user passes through to its own directory
    env = {
      CRONTOPUS_AGENT_CONFIG: join(dir, "etc", "agent.json"),
      CRONTOPUS_MACHINE_ID: `e2e-${crypto.randomUUID()}`,
    };
    await api("/api/v1/channels", { method: "POST", json: { name: "hook", type: "webhook", config: { url: receiver.url } } });
  }, 70_000);
  afterAll(async () => {
    installCrontab(USER, "");
    spawnSync("crontab", ["-u", USER, "-r"]);
    await s?.close().catch(() => {});
    receiver.stop();
    unlock();
  });

  step("enroll with a token from the API; the agent token lands in a private config file", async () => {
    const res = await api("/api/v1/enrollment-tokens", { method: "POST", json: { name: "web servers", labels: { role: "web" }, max_uses: 5 } });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: string };
    expect(token).toMatch(/^cte_[A-Za-z0-9_-]{32,}$/);

    const r = await agent(["enroll", "--server", s.url, "--token", token, "--name", "web1", "--label", "dc=eu"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("enrolled as web1");
    const cfgPath = env.CRONTOPUS_AGENT_CONFIG!;
    expect(statSync(cfgPath).mode & 0o777).toBe(0o600);
    const cfg = await Bun.file(cfgPath).json();
    expect(cfg.token).toMatch(/^cta_/);
    agentId = cfg.agent_id;
    // The runs below have no environment to name a state directory in: the config does.
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, state_dir: join(dir, "state") }));

    const { agents } = (await (await api("/api/v1/agents")).json()) as { agents: { id: string; name: string; status: string; labels: Record<string, string> }[] };
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ name: "web1", status: "online", labels: { role: "web", dc: "eu" } });
    // The enrollment token's secret is never shown again, and its use is counted.
    const list = (await (await api("/api/v1/enrollment-tokens")).json()) as { enrollment_tokens: { uses: number; prefix: string }[] };
    expect(list.enrollment_tokens[0]!.uses).toBe(1);
    expect(JSON.stringify(list)).not.toContain(token);
  });

  step("a wrong enrollment token exits 1 with one line and saves nothing", async () => {
    const other = join(dir, "other.json");
    const r = await cli(["agent", "enroll", "--server", s.url, "--token", "cte_nope"], { ...env, CRONTOPUS_AGENT_CONFIG: other });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("invalid or expired enrollment token");
    expect(existsSync(other)).toBe(false);
  });

  let jobId: string;
  step("agent run --once installs the job's line in the user's crontab and keeps their lines byte for byte", async () => {
    const res = await api("/api/v1/jobs", {
      method: "POST",
      json: {
        namespace: "ops",
        name: "backup",
        schedule: "*/5 * * * *",
        command: "echo backing up; echo 100% done",
        env: { TARGET: "s3://bucket" },
        agent: { selector: { role: "web" } },
        user: USER,
        timeout: "1m",
      },
    });
    expect(res.status).toBe(201);
    jobId = ((await res.json()) as { id: string }).id;

    const dry = await agent(["run", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`crontab of ${USER}:`);
    expect(dry.stdout).toContain(`+ */5 * * * *`);
    expect(crontabOf(USER)).toBe(USER_LINES); // a dry run changes nothing

    const r = await agent(["run", "--once"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const text = crontabOf(USER);
    expect(text.startsWith(USER_LINES)).toBe(true);
    const lines = managedLines(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\*/5 \\* \\* \\* \\* .* exec --job ${jobId} --state-dir .* -- /bin/sh -c 'echo backing up; echo 100\\\\% done'$`));

    const detail = (await (await api(`/api/v1/agents/${agentId}`)).json()) as any;
    expect(detail.jobs).toEqual([expect.objectContaining({ job_id: jobId, job: "ops/backup", state: "applied" })]);
    expect(detail.discovered.map((d: any) => d.schedule).sort()).toEqual(["17 3 * * *", "@reboot"]);
    const agentsOfJob = (await (await api("/api/v1/jobs/ops/backup/agents")).json()) as any;
    expect(agentsOfJob.agents).toEqual([expect.objectContaining({ name: "web1", state: "applied", assigned: true })]);
    // The job's cache is the user's alone; the agent token is not in it.
    const cache = join(dir, "state", "users", USER, "jobs", `${jobId}.json`);
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    expect(await Bun.file(cache).text()).not.toContain("cta_");
    // The first change saved the user's original crontab.
    expect(await Bun.file(join(dir, "state", "backups", `crontab.${USER}.orig`)).text()).toBe(USER_LINES);

    const status = await agent(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("ops/backup");
    expect(status.stdout).toMatch(/Drift:\s+none/);
  });

  step("the managed line, run as cron runs it, reports the run with exit code, duration and output", async () => {
    const line = managedLines(crontabOf(USER))[0]!;
    const r = await runAsCron(cronCommand(line), USER);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("backing up\n100% done\n");
    const run = await until(async () => {
      const { runs } = (await (await api("/api/v1/jobs/ops/backup/runs")).json()) as { runs: any[] };
      return runs.find((x) => x.status === "success");
    });
    expect(run.exit_code).toBe(0);
    expect(run.duration_ms).toBeGreaterThanOrEqual(0);
    expect(run.source).toContain("job token");
    const full = (await (await api(`/api/v1/runs/${run.id}`)).json()) as { output: string };
    expect(full.output).toBe("backing up\n100% done\n");
  });

  step("changing, pausing and deleting the job updates, comments out and removes the line", async () => {
    await api("/api/v1/jobs/ops/backup", { method: "PATCH", json: { schedule: "30 4 * * *" } });
    expect((await agent(["run", "--once"])).code).toBe(0);
    expect(managedLines(crontabOf(USER))[0]).toStartWith("30 4 * * * ");

    await api("/api/v1/jobs/ops/backup/pause", { method: "POST" });
    expect((await agent(["run", "--once"])).code).toBe(0);
    expect(managedLines(crontabOf(USER))[0]).toStartWith("#30 4 * * * ");

    await api("/api/v1/jobs/ops/backup/resume", { method: "POST" });
    expect((await agent(["run", "--once"])).code).toBe(0);
    expect(managedLines(crontabOf(USER))[0]).toStartWith("30 4 * * * ");
  });

  step("a hand edit is reported as drift, alerts the job's channels, and is restored", async () => {
    const before = crontabOf(USER);
    installCrontab(USER, before.replace(/^30 4 \* \* \* /m, "0 * * * * "));
    const r = await agent(["run", "--once"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ops/backup drifted");
    expect(crontabOf(USER)).toBe(before);
    const detail = (await (await api(`/api/v1/agents/${agentId}`)).json()) as any;
    expect(detail.jobs[0].state).toBe("drifted");
    const hook = await until(() => receiver.received.find((x) => x.json?.event === "drift"));
    expect(hook.json.job.name).toBe("backup");
    expect(hook.json.reason).toContain("web1");
    // The next pass finds it intact again.
    expect((await agent(["run", "--once"])).code).toBe(0);
    expect(((await (await api(`/api/v1/agents/${agentId}`)).json()) as any).jobs[0].state).toBe("applied");
  });

  step("a discovered line is adopted: it becomes a managed job in place of the user's line", async () => {
    const detail = (await (await api(`/api/v1/agents/${agentId}`)).json()) as any;
    const legacy = detail.discovered.find((d: any) => d.schedule === "17 3 * * *");
    expect(legacy.user).toBe(USER);
    const res = await api(`/api/v1/agents/${agentId}/discovered/${legacy.id}/adopt`, { method: "POST", json: { namespace: "ops", name: "legacy-report" } });
    expect(res.status).toBe(201);
    const job = (await res.json()) as any;
    expect(job).toMatchObject({ schedule: "17 3 * * *", command: "/usr/bin/true  # legacy report", user: USER, agent: { selector: { hostname: detail.hostname } } });

    expect((await agent(["run", "--once"])).code).toBe(0);
    const text = crontabOf(USER);
    expect(text).not.toContain("\t/usr/bin/true");
    expect(managedLines(text).some((l) => l.startsWith("17 3 * * * ") && l.includes(job.id))).toBe(true);
    expect(text).toContain("@reboot /bin/echo booted");
    const after = (await (await api(`/api/v1/agents/${agentId}`)).json()) as any;
    expect(after.discovered.map((d: any) => d.schedule)).toEqual(["@reboot"]);
    expect(after.jobs.map((j: any) => j.job).sort()).toEqual(["ops/backup", "ops/legacy-report"]);
    // A second adoption of the same entry is a conflict... it is gone from the host, so 404.
    expect((await api(`/api/v1/agents/${agentId}/discovered/${legacy.id}/adopt`, { method: "POST", json: { name: "again" } })).status).toBe(404);
  });

  step("server down: entries untouched, results spooled, delivered with their own times once it is back", async () => {
    const before = crontabOf(USER);
    const line = managedLines(before).find((l) => l.includes("echo backing up"))!;
    await s.stop();

    const r = await agent(["run", "--once"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("entries left as they are");
    expect(crontabOf(USER)).toBe(before);

    const ranAt = Date.now();
    const ran = await runAsCron(cronCommand(line), USER);
    expect(ran.status).toBe(0);
    expect(ran.stdout).toBe("backing up\n100% done\n");
    const spoolDir = join(dir, "state", "users", USER, "spool");
    expect(readdirSync(spoolDir).filter((f) => f.endsWith(".json"))).toHaveLength(2); // start and finish

    const st = await agent(["status"]);
    expect(st.stdout).toContain("cannot reach");

    await Bun.sleep(1200);
    s = await startTestServer({ ...RECEIVER_ENV, CRONTOPUS_DATA_DIR: s.dataDir, CRONTOPUS_PORT: String(port) });
    const back = await agent(["run", "--once"]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("delivered 2 spooled result(s)");
    expect(readdirSync(spoolDir).filter((f) => f.endsWith(".json"))).toHaveLength(0);
    // The engine applies delivered check-ins in the background.
    const runs = await until(async () => {
      const { runs } = (await (await api("/api/v1/jobs/ops/backup/runs")).json()) as { runs: any[] };
      return runs.filter((x) => x.status === "success").length === 2 ? runs : null;
    });
    // The run keeps the time it ran at, not the time it was delivered.
    const late = runs[0];
    expect(Math.abs(Date.parse(late.started_at) - ranAt)).toBeLessThan(1000);
    expect(late).toMatchObject({ status: "success", exit_code: 0 });
  });

  step("a revoked agent keeps every entry; uninstall takes only the managed lines out", async () => {
    const before = crontabOf(USER);
    expect((await api(`/api/v1/agents/${agentId}`, { method: "DELETE" })).status).toBe(204);
    const r = await agent(["run", "--once"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("refused the agent token");
    expect(crontabOf(USER)).toBe(before);

    const u = await agent(["uninstall"]);
    expect(u.code).toBe(0);
    expect(u.stdout).toContain(`removed from the crontab of ${USER}`);
    // What is left is the user's text as it was: the adopted line is back in its place, so
    // the legacy job runs again without the agent.
    expect(crontabOf(USER)).toBe(USER_LINES);
  });
});

// ---------------------------------------------------------------------------------------
// An agent that runs as a plain account, started as a service is: no $USER, $LOGNAME or
// $HOME. It must know itself by its uid, so that a job for its own user and a job without a
// user are the same crontab, read once and written once.

const SELF = "crontopus-e2e-self";
const canRunAs = (user: string) => spawnSync("runuser", ["-u", user, "--", "test", "-x", BUN, "-a", "-r", MAIN]).status === 0;

describe.skipIf(!root || !hasCrontab)("an agent running as its own account, with an empty environment", () => {
  let srv: TestServer;
  let carol: Persona;
  let unlockSelf = () => {};
  beforeAll(async () => {
    unlockSelf = await lockUser(SELF);
    ensureUser(SELF);
    srv = await startTestServer();
    carol = await persona(srv.db, "carol", "initech", "owner");
  }, 70_000);
  afterAll(async () => {
    spawnSync("crontab", ["-u", SELF, "-r"]);
    await srv?.close().catch(() => {});
    unlockSelf();
  });

  const capi = (path: string, init: RequestInit & { json?: unknown } = {}) => srv.api(path, { token: carol.token, ...init });

  /**
   * Enrolls an agent whose files belong to SELF, with a `crontab` on its PATH that logs each
   * call before handing it to the real one. SELF starts without a crontab.
   */
  async function selfAgent(slot: string) {
    spawnSync("crontab", ["-u", SELF, "-r"]);
    const home = tempDir("crontopus-agent-self-");
    chmodSync(home, 0o755);
    const config = join(home, "agent.json");
    const res = await capi("/api/v1/enrollment-tokens", { method: "POST", json: { name: slot, labels: { slot } } });
    const { token } = (await res.json()) as { token: string };
    const enrolled = await cli(["agent", "enroll", "--server", srv.url, "--token", token, "--name", slot], { CRONTOPUS_AGENT_CONFIG: config, CRONTOPUS_MACHINE_ID: `self-${crypto.randomUUID()}` });
    expect(enrolled.code).toBe(0);
    const cfg = JSON.parse(readFileSync(config, "utf8"));
    writeFileSync(config, JSON.stringify({ ...cfg, state_dir: join(home, "state") }));
    const log = join(home, "crontab-calls");
    writeFileSync(log, "");
    writeFileSync(join(home, "crontab"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\nexec /usr/bin/crontab "$@"\n`, { mode: 0o755 });
    const uid = Number(spawnSync("id", ["-u", SELF], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", SELF], { encoding: "utf8" }).stdout.trim());
    for (const p of [home, config, log]) chownSync(p, uid, gid);
    const calls = () => readFileSync(log, "utf8").split("\n").filter((l) => l !== "" && l !== "-V");
    const takeCalls = () => {
      const c = calls();
      writeFileSync(log, "");
      return c;
    };
    const run = (args: string[]) => bare(["agent", ...args, "--config", config], { user: SELF, path: `${home}:/usr/sbin:/usr/bin:/sbin:/bin` });
    return { id: cfg.agent_id as string, config, home, run, takeCalls };
  }

  const job = (name: string, slot: string, extra: Record<string, unknown> = {}) =>
    capi("/api/v1/jobs", { method: "POST", json: { namespace: "ops", name, schedule: "*/5 * * * *", command: `/bin/echo ${name}`, agent: { selector: { slot } }, ...extra } }).then(async (r) => {
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    });

  test.skipIf(!canRunAs(SELF))(
    "a job for the agent's own user and one without a user share its crontab: one read and one write a pass, both lines kept, both applied",
    async () => {
      const a = await selfAgent("self-1");
      const named = await job("named", "self-1", { user: SELF });
      const unnamed = await job("unnamed", "self-1");

      for (const pass of [1, 2]) {
        const r = await a.run(["run", "--once"]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        const text = crontabOf(SELF);
        expect(managedLines(text).filter((l) => l.includes(`--job ${named} `))).toHaveLength(1);
        expect(managedLines(text).filter((l) => l.includes(`--job ${unnamed} `))).toHaveLength(1);
        // Its own crontab, never through -u; written (and read back) in the first pass only.
        const calls = a.takeCalls();
        expect(calls.some((c) => c.includes("-u"))).toBe(false);
        expect(calls.filter((c) => !c.startsWith("-"))).toHaveLength(pass === 1 ? 1 : 0);
        expect(calls.filter((c) => c === "-l")).toHaveLength(pass === 1 ? 2 : 1);
      }

      const st = await a.run(["status", "--json"]);
      expect(st.code).toBe(0);
      const managed = (JSON.parse(st.stdout) as { state: { managed: { job_id: string; user: string; state: string }[] } }).state.managed;
      expect(managed.map((m) => [m.job_id, m.user, m.state]).sort()).toEqual([
        [named, SELF, "applied"],
        [unnamed, SELF, "applied"],
      ].sort());
      const detail = (await (await capi(`/api/v1/agents/${a.id}`)).json()) as { jobs: { job_id: string; state: string }[] };
      expect(detail.jobs.map((j) => [j.job_id, j.state]).sort()).toEqual([
        [named, "applied"],
        [unnamed, "applied"],
      ].sort());
    },
    60_000,
  );

  test.skipIf(!canRunAs(SELF))(
    "uninstall removes the crontab the agent created where the user had none",
    async () => {
      const a = await selfAgent("self-2");
      await job("lonely", "self-2");
      expect((await a.run(["run", "--once"])).code).toBe(0);
      expect(managedLines(crontabOf(SELF))).toHaveLength(1);

      const u = await a.run(["uninstall"]);
      expect(u.code).toBe(0);
      const l = spawnSync("crontab", ["-u", SELF, "-l"], { encoding: "utf8" });
      expect(l.stderr).toContain(`no crontab for ${SELF}`);
      expect(l.status).toBe(1);
      expect(u.stdout).toContain(`managed entries removed from the crontab of ${SELF}`);
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------
// `applied` means the crontab, read back, holds the line: here someone else's `crontab`
// lands just after the agent's, as an admin's editor or a deploy script would.

const RACE = "crontopus-e2e-race";

/** The real crontab of RACE; another writer replaces it right after the agent's next install. Root's own crontab is never read or written. */
class RacedCrontab extends SystemCrontab {
  racer: string | null = null;
  override async read(user?: string) {
    return user === undefined ? null : super.read(user);
  }
  override async install(text: string, user?: string) {
    if (user === undefined) throw new Error("the test never writes root's crontab");
    await super.install(text, user);
    if (this.racer !== null) installCrontab(user, this.racer);
    this.racer = null;
  }
}

describe.skipIf(!root || !hasCrontab)("what the agent reports is what the crontab holds", () => {
  let srv: TestServer;
  let dave: Persona;
  let unlockRace = () => {};
  beforeAll(async () => {
    unlockRace = await lockUser(RACE);
    ensureUser(RACE);
    srv = await startTestServer();
    dave = await persona(srv.db, "dave", "hooli", "owner");
  }, 70_000);
  afterAll(async () => {
    spawnSync("crontab", ["-u", RACE, "-r"]);
    await srv?.close().catch(() => {});
    unlockRace();
  });

  test(
    "a line another writer wiped out right after the agent wrote it is reported as an error, not applied, and is written again by the next pass",
    async () => {
      const dapi = (path: string, init: RequestInit & { json?: unknown } = {}) => srv.api(path, { token: dave.token, ...init });
      installCrontab(RACE, "# dave's crontab\n");
      const { token } = (await (await dapi("/api/v1/enrollment-tokens", { method: "POST", json: { name: "race", labels: { slot: "race" } } })).json()) as { token: string };
      const home = tempDir("crontopus-agent-race-");
      const config = join(home, "agent.json");
      expect((await cli(["agent", "enroll", "--server", srv.url, "--token", token, "--name", "race"], { CRONTOPUS_AGENT_CONFIG: config, CRONTOPUS_MACHINE_ID: `race-${crypto.randomUUID()}` })).code).toBe(0);
      const cfg = JSON.parse(readFileSync(config, "utf8"));
      const res = await dapi("/api/v1/jobs", { method: "POST", json: { namespace: "ops", name: "raced", schedule: "0 3 * * *", command: "/bin/true", agent: { selector: { slot: "race" } }, user: RACE } });
      expect(res.status).toBe(201);
      const jobId = ((await res.json()) as { id: string }).id;

      const io = new RacedCrontab();
      const deps = {
        client: new AgentClient(cfg.server, cfg.token),
        io,
        host: await detectHostCron(),
        stateDir: join(home, "state"),
        account: currentAccount(),
        root: true,
        self: [BUN, MAIN],
      };
      const edited = "# dave's crontab\n# and the line his editor added while the agent wrote\n";
      io.racer = edited;
      const raced = await syncOnce(cfg, deps);
      expect(crontabOf(RACE)).toBe(edited);
      expect(raced.results).toEqual([expect.objectContaining({ job_id: jobId, user: RACE, state: "error", message: expect.stringContaining(`its line is not in the crontab of ${RACE} as read back`) })]);
      const detail = (await (await dapi(`/api/v1/agents/${cfg.agent_id}`)).json()) as { jobs: { job_id: string; state: string }[] };
      expect(detail.jobs).toEqual([expect.objectContaining({ job_id: jobId, state: "error" })]);

      const again = await syncOnce(cfg, deps);
      expect(again.results).toEqual([expect.objectContaining({ job_id: jobId, state: "applied" })]);
      expect(crontabOf(RACE)).toStartWith(`${edited}# crontopus:begin`);
      expect(managedLines(crontabOf(RACE))).toHaveLength(1);
    },
    60_000,
  );
});
