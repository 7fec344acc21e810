// /metrics and the status badges over HTTP. alice owns acme: a backup that is up, a report
// that failed, a paused cleanup. charlie owns globex and must never see any of it; the
// operator, holding the metrics token, sees the whole server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createContext } from "../src/app";
import { loadConfig } from "../src/config";
import type { AppContext } from "../src/context";
import { migrate, openDb, type Db } from "../src/db";
import { renderApiError } from "../src/http";
import { createLogger } from "../src/log";
import { getTenantSettings, findTenant } from "../src/tenants/tenants";
import { createApiToken } from "../src/auth/apitokens";
import { createJob, pauseJob, putJob } from "../src/jobs/jobs";
import { checkinEvent, findCheckinJob } from "../src/checkins/checkins";
import { Engine } from "../src/monitor/engine";
import { metricsApi } from "../src/metrics/api";
import { escapeLabelValue, listJobFigures, renderTenantMetrics, tenantMetrics } from "../src/metrics/metrics";
import { persona, startTestServer, tempDir, type Persona } from "./helpers";
import { until } from "./receiver";

const T0 = Date.UTC(2026, 2, 1, 12, 0);
const NOW = T0 + 60_000;
const METRICS_TOKEN = "operator-metrics-secret-0123456789";

let dir: string;
let db: Db;
let ctx: AppContext;
let engine: Engine;
let app: { handle(r: Request): Promise<Response> };
let alice: Persona, charlie: Persona;
let acmeKey: string, globexKey: string;

function appFor(c: AppContext, e?: Engine) {
  return new Elysia().onError(({ code, error, request }) => renderApiError(c, code, error, request)).use(metricsApi(c, { engine: e }));
}

const get = (path: string, token?: string) =>
  app.handle(new Request(`http://localhost${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));

async function checkin(tenantId: string, ref: string, kind: "success" | "fail", at: number, duration_ms: number) {
  const done = ctx.checkins.append(checkinEvent(findCheckinJob(db, tenantId, ref), { job: ref, kind, duration_ms }, "test", 1024, at, 90));
  ctx.checkins.flush();
  await done;
}

beforeAll(async () => {
  dir = tempDir();
  db = openDb(join(dir, "crontopus.db"));
  migrate(db);
  const config = loadConfig({ CRONTOPUS_DATA_DIR: dir, CRONTOPUS_LOG_LEVEL: "silent", CRONTOPUS_METRICS_TOKEN: METRICS_TOKEN });
  ctx = createContext(db, config, { log: createLogger("silent"), now: () => NOW });
  engine = ctx.engine;
  app = appFor(ctx, engine);

  alice = await persona(db, "alice", "acme", "owner");
  charlie = await persona(db, "charlie", "globex", "owner");
  const acme = findTenant(db, "acme")!.id;
  const globex = findTenant(db, "globex")!.id;
  acmeKey = getTenantSettings(db, acme).badge_key;
  globexKey = getTenantSettings(db, globex).badge_key;

  createJob(db, acme, { name: "backup", schedule: "@hourly", labels: { team: "data", "app.example.com/tier": "gold" } }, T0);
  createJob(db, acme, { name: "report", schedule: "@hourly", labels: { team: "data" } }, T0);
  putJob(db, acme, "ops", "cleanup", { schedule: "@daily", labels: { team: "ops", note: `a<b&"c"` } }, T0);
  pauseJob(db, acme, "ops", "cleanup", T0);
  createJob(db, globex, { name: "invoices", schedule: "@daily", labels: { team: "data" } }, T0);
  await checkin(acme, "default/backup", "success", T0 + 1_000, 1_500);
  await checkin(acme, "default/report", "fail", T0 + 2_000, 250);
  engine.tick(T0 + 3_000);
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GET /metrics, tenant view", () => {
  test("shows each of alice's jobs with its status, health, last success, duration and check-ins", async () => {
    const r = await get("/metrics", alice.token);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const body = await r.text();
    const lines = body.split("\n");
    for (const line of [
      `crontopus_job_status{namespace="default",name="backup",status="up"} 1`,
      `crontopus_job_status{namespace="default",name="report",status="failed"} 1`,
      `crontopus_job_status{namespace="ops",name="cleanup",status="paused"} 1`,
      `crontopus_job_up{namespace="default",name="backup"} 1`,
      `crontopus_job_up{namespace="default",name="report"} 0`,
      `crontopus_job_up{namespace="ops",name="cleanup"} 1`,
      `crontopus_job_seconds_since_last_success{namespace="default",name="backup"} 59`,
      `crontopus_job_last_duration_seconds{namespace="default",name="backup"} 1.5`,
      `crontopus_job_last_duration_seconds{namespace="default",name="report"} 0.25`,
      `crontopus_job_checkins_total{namespace="default",name="backup"} 1`,
      `crontopus_job_checkins_total{namespace="ops",name="cleanup"} 0`,
      "# TYPE crontopus_job_checkins_total counter",
      "# TYPE crontopus_job_up gauge",
    ]) {
      expect(lines).toContain(line);
    }
    // One status series per job, and none of the operator's figures.
    expect(lines.filter((l) => l.startsWith("crontopus_job_status{")).length).toBe(3);
    expect(body).not.toContain("crontopus_build_info");
    expect(body).not.toContain("crontopus_tenants");
  });

  test("has no seconds-since-last-success series for a job that never succeeded", async () => {
    const body = await (await get("/metrics", alice.token)).text();
    expect(body).not.toContain(`crontopus_job_seconds_since_last_success{namespace="default",name="report"}`);
    expect(body).not.toContain(`crontopus_job_seconds_since_last_success{namespace="ops",name="cleanup"}`);
  });

  test("shows charlie only globex's jobs, none of alice's", async () => {
    const body = await (await get("/metrics", charlie.token)).text();
    expect(body).toContain(`crontopus_job_status{namespace="default",name="invoices",status="new"} 1`);
    expect(body).not.toContain("backup");
    expect(body).not.toContain("report");
    expect(body).not.toContain("cleanup");
    expect(body.split("\n").filter((l) => l.startsWith("crontopus_job_status{")).length).toBe(1);
  });

  test("answers 401 without a token and for an unknown API token", async () => {
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", "ctp_not-a-real-token")).status).toBe(401);
  });

  test("escapes backslashes, quotes and newlines in label values", () => {
    expect(escapeLabelValue(`C:\\jobs "nightly"\nrun`)).toBe(`C:\\\\jobs \\"nightly\\"\\nrun`);
    expect(escapeLabelValue("plain-name")).toBe("plain-name");
    // Names are slugs today, but the exposition must stay valid whatever a label holds.
    const text = renderTenantMetrics(
      [{ namespace: `q"ns`, name: "back\\slash\nx", status: "up", last_success_at: null, last_duration_ms: null, checkins_total: 0 }],
      NOW,
    );
    expect(text).toContain(`crontopus_job_up{namespace="q\\"ns",name="back\\\\slash\\nx"} 1`);
    expect(text.split("\n").filter((l) => l.startsWith("crontopus_job_up")).length).toBe(1);
  });

  test("renders 10,000 jobs in well under a second", () => {
    const tenant = findTenant(db, "globex")!.id;
    db.transaction(() => {
      for (let i = 0; i < 10_000; i++) createJob(db, tenant, { namespace: "bulk", name: `job-${i}`, schedule: "@hourly" }, T0);
    })();
    const t0 = performance.now();
    const text = tenantMetrics(db, tenant, NOW);
    const ms = performance.now() - t0;
    expect(text.split("\n").filter((l) => l.startsWith("crontopus_job_up{")).length).toBe(10_001);
    expect(listJobFigures(db, tenant).length).toBe(10_001);
    expect(ms).toBeLessThan(300);
    db.query("DELETE FROM jobs WHERE tenant_id = ? AND namespace = 'bulk'").run(tenant);
  });
});

describe("GET /metrics, operator view", () => {
  test("with the metrics token, shows the server's figures across all tenants", async () => {
    const r = await get("/metrics", METRICS_TOKEN);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const body = await r.text();
    const lines = body.split("\n");
    for (const line of [
      `crontopus_build_info{version="0.1.0"} 1`,
      `crontopus_tenants 2`,
      `crontopus_jobs{status="up"} 1`,
      `crontopus_jobs{status="failed"} 1`,
      `crontopus_jobs{status="paused"} 1`,
      `crontopus_jobs{status="new"} 1`,
      `crontopus_jobs{status="down"} 0`,
      `crontopus_notifications{status="pending"} 0`,
      `crontopus_checkins_committed_total 2`,
      `crontopus_checkin_batches_total 2`,
      `crontopus_checkins_unapplied 0`,
      `crontopus_engine_ticks_total 1`,
      `crontopus_engine_checkins_applied_total 2`,
      "# TYPE crontopus_flips_total counter",
    ]) {
      expect(lines).toContain(line);
    }
    const value = (name: string) => Number(lines.find((l) => l.startsWith(name + " "))?.split(" ")[1]);
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(value("crontopus_uptime_seconds")).toBeGreaterThan(0);
    expect(value("crontopus_database_size_bytes")).toBeGreaterThan(0);
    expect(value("crontopus_flips_total")).toBeGreaterThanOrEqual(2);
    expect(value("crontopus_engine_last_tick_seconds")).toBeGreaterThanOrEqual(0);
    // No job of any tenant is listed by name here.
    expect(body).not.toContain("backup");
  });

  test("answers 401 to a wrong bearer token", async () => {
    const r = await get("/metrics", "operator-metrics-secret-012345678X");
    expect(r.status).toBe(401);
    expect(await r.text()).not.toContain("crontopus_");
    expect((await get("/metrics", METRICS_TOKEN.slice(0, -1))).status).toBe(401);
  });

  test("is off when no metrics token is configured: any bearer but an API token is 401", async () => {
    const config = loadConfig({ CRONTOPUS_DATA_DIR: dir, CRONTOPUS_LOG_LEVEL: "silent" });
    const bare = appFor(createContext(db, config, { log: createLogger("silent"), now: () => NOW }), engine);
    const ask = (token: string) => bare.handle(new Request("http://localhost/metrics", { headers: { authorization: `Bearer ${token}` } }));
    expect((await ask(METRICS_TOKEN)).status).toBe(401);
    const r = await ask(alice.token);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain(`name="backup"`);
  });

  test("a read-only API token is enough for the tenant view", async () => {
    const acme = findTenant(db, "acme")!.id;
    const { token } = createApiToken(db, acme, alice.id, { name: "prometheus", scopes: ["read"] });
    const r = await get("/metrics", token);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain(`crontopus_job_up{namespace="default",name="report"} 0`);
  });
});

describe("status badges", () => {
  const svgText = async (r: Response) => {
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("no-cache");
    return r.text();
  };

  test("a job's badge shows its name and status in the status's colour", async () => {
    const up = await svgText(await get(`/badge/${acmeKey}/default/backup.svg`));
    expect(up).toContain("<title>backup: up</title>");
    expect(up).toContain('fill="#4c1"');
    const failed = await svgText(await get(`/badge/${acmeKey}/default/report.svg`));
    expect(failed).toContain("<title>report: failed</title>");
    expect(failed).toContain('fill="#e05d44"');
    const paused = await svgText(await get(`/badge/${acmeKey}/ops/cleanup.svg`));
    expect(paused).toContain("<title>cleanup: paused</title>");
  });

  test("a label's badge shows the worst status of the tenant's jobs with that label", async () => {
    // team=data: backup is up, report failed; globex's invoices (new) does not count.
    expect(await svgText(await get(`/badge/${acmeKey}/label/team/data.svg`))).toContain("<title>team=data: failed</title>");
    expect(await svgText(await get(`/badge/${acmeKey}/label/team/ops.svg`))).toContain("<title>team=ops: paused</title>");
    expect(await svgText(await get(`/badge/${globexKey}/label/team/data.svg`))).toContain("<title>team=data: new</title>");
    const none = await svgText(await get(`/badge/${acmeKey}/label/team/nobody.svg`));
    expect(none).toContain("<title>team=nobody: no jobs</title>");
    expect(none).toContain('fill="#9f9f9f"');
  });

  test("a label key with a slash and a value with <&\" work when percent-encoded, and are escaped", async () => {
    const tier = await svgText(await get(`/badge/${acmeKey}/label/${encodeURIComponent("app.example.com/tier")}/gold.svg`));
    expect(tier).toContain("<title>app.example.com/tier=gold: up</title>");
    const note = await svgText(await get(`/badge/${acmeKey}/label/note/${encodeURIComponent(`a<b&"c"`)}.svg`));
    expect(note).toContain("<title>note=a&lt;b&amp;&quot;c&quot;: paused</title>");
    expect(note).not.toContain(`a<b`);
  });

  test(".json answers shields.io's endpoint format", async () => {
    const r = await get(`/badge/${acmeKey}/default/backup.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-cache");
    expect(await r.json()).toEqual({ schemaVersion: 1, label: "backup", message: "up", color: "brightgreen" });
    expect(await (await get(`/badge/${acmeKey}/label/team/data.json`)).json()).toEqual({
      schemaVersion: 1,
      label: "team=data",
      message: "failed",
      color: "red",
    });
  });

  test("returns the same plain 404 for a wrong key, another tenant's job and a malformed path", async () => {
    const paths = [
      `/badge/not-the-key/default/backup.svg`,
      `/badge/${globexKey}/default/backup.svg`, // alice's job through charlie's key
      `/badge/${acmeKey}/default/invoices.svg`, // charlie's job through alice's key
      `/badge/${acmeKey}/default/no-such-job.svg`,
      `/badge/${acmeKey}/default/backup.png`,
      `/badge/not-the-key/label/team/data.svg`,
      `/badge/not-the-key/label/team/data.json`,
      `/badge/${acmeKey}/label/team/data/extra.svg`,
    ];
    for (const path of paths) {
      const r = await get(path);
      expect(`${path} -> ${r.status} ${r.headers.get("content-type")} ${await r.text()}`).toBe(
        `${path} -> 404 text/plain; charset=utf-8 not found\n`,
      );
    }
  });
});

describe("through a live server", () => {
  test("the operator sees the running engine and open requests; a job's badge URL works", async () => {
    const s = await startTestServer({ CRONTOPUS_METRICS_TOKEN: METRICS_TOKEN, CRONTOPUS_TICK_MS: "20" });
    try {
      const dana = await persona(s.db, "dana", "initech", "owner");
      const job = (await (await s.api("/api/v1/jobs/default/etl", { method: "PUT", token: dana.token, json: { schedule: "@hourly" } })).json()) as {
        ping_url: string;
      };
      expect((await s.api("/metrics", { token: METRICS_TOKEN })).status).toBe(200);
      expect((await fetch(job.ping_url)).status).toBe(200);
      // Wait for the engine to apply the ping.
      const ops = await until(async () => {
        const text = await (await s.api("/metrics", { token: METRICS_TOKEN })).text();
        return text.includes(`crontopus_jobs{status="up"} 1`) ? text : null;
      });
      const value = (name: string) => Number(ops.split("\n").find((l) => l.startsWith(name + " "))?.split(" ")[1]);
      expect(value("crontopus_engine_ticks_total")).toBeGreaterThan(0);
      expect(value("crontopus_checkins_committed_total")).toBe(1);
      expect(value("crontopus_http_pending_requests")).toBeGreaterThanOrEqual(1);
      const tenant = await (await s.api("/metrics", { token: dana.token })).text();
      expect(tenant).toContain(`crontopus_job_up{namespace="default",name="etl"} 1`);
      const { badge_key } = (await (await s.api("/api/v1/tenants/current", { token: dana.token })).json()) as { badge_key: string };
      const badge = await fetch(`${s.url}/badge/${badge_key}/default/etl.svg`);
      expect(badge.status).toBe(200);
      expect(await badge.text()).toContain("<title>etl: up</title>");
    } finally {
      await s.close();
    }
  }, 15_000);
});
