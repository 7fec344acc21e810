// Who may check in for which job, at the service: acme's credentials and backup's own token
// (alice's tenant), and globex's job (charlie's) that acme must not even see.
import { describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant, getTenantSettings } from "../tenants/tenants";
import { deleteJob, putJob } from "../jobs/jobs";
import { jobStates } from "../monitor/states";
import { Forbidden, NotFound, Unauthorized } from "../errors";
import { apiCheckin, checkinTarget, PingLookup, pingSlug, type PingTarget } from "./checkins";

const NOW = Date.UTC(2026, 10, 20, 12);

function setup() {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const backup = putJob(db, acme, "default", "backup", { schedule: "@daily" }, NOW).job;
  const report = putJob(db, acme, "ops", "report", { schedule: "@hourly" }, NOW).job;
  const secret = putJob(db, globex, "ops", "secret", { schedule: "@daily" }, NOW).job;
  return { db, acme, globex, backup, report, secret };
}

describe("checkinTarget", () => {
  test("a tenant's credential checks in for any job of its tenant, named by namespace/name, name or id", () => {
    const { db, acme, backup, report } = setup();
    const alice = { tenantId: acme, source: "api (alice@example.com)" };
    for (const ref of ["default/backup", "backup", backup.id]) expect(checkinTarget(db, alice, ref).target.id).toBe(backup.id);
    expect(checkinTarget(db, alice, "ops/report")).toEqual({ target: { id: report.id, tenant_id: acme, last_checkin_id: null }, source: "api (alice@example.com)" });
  });

  test("another tenant's job is not found, by any name, as a job that does not exist", () => {
    const { db, acme, secret } = setup();
    const alice = { tenantId: acme, source: "api (alice@example.com)" };
    for (const ref of ["ops/secret", secret.id, "ops/nothing"]) {
      expect(() => checkinTarget(db, alice, ref)).toThrow(NotFound);
      expect(() => checkinTarget(db, alice, ref)).toThrow(`job ${ref}`);
    }
  });

  test("a job's own token checks in for that job only", () => {
    const { db, acme, backup, report, secret } = setup();
    const token = { jobToken: backup.ping_token };
    for (const ref of ["default/backup", "backup", backup.id]) {
      expect(checkinTarget(db, token, ref)).toEqual({ target: { id: backup.id, tenant_id: acme, last_checkin_id: null }, source: "job token" });
    }
    // Another job of its tenant, or of another tenant: refused, without saying whether it exists.
    for (const ref of ["ops/report", report.id, secret.id, "ops/nothing"]) expect(() => checkinTarget(db, token, ref)).toThrow(Forbidden);
  });

  test("a token that is no job's is refused", () => {
    const { db } = setup();
    expect(() => checkinTarget(db, { jobToken: "not-a-token" }, "backup")).toThrow(Unauthorized);
  });
});

test("apiCheckin: the log entry for the job the credential may check in for, its source naming the host", () => {
  const { db, acme, backup } = setup();
  const event = apiCheckin(db, { jobToken: backup.ping_token }, { job: "backup", kind: "success", host: "db1" }, 1024, NOW);
  expect(event).toMatchObject({ tenant_id: acme, job_id: backup.id, kind: "success", exit_code: 0, received_at: NOW, source: "job token on db1" });
  expect(apiCheckin(db, { tenantId: acme, source: "agent db1" }, { job: "backup", kind: "start" }, 1024, NOW).source).toBe("agent db1");
});

describe("pingSlug", () => {
  test("a job's slug under its tenant's ping key: its name in default, namespace-name elsewhere; none when the slug reaches another job first", () => {
    const { db, acme, globex, backup, report, secret } = setup();
    const key = getTenantSettings(db, acme).ping_key;
    expect(pingSlug(db, key, backup)).toEqual({ slug: "backup", success: "backup" });
    expect(pingSlug(db, key, report)).toEqual({ slug: "ops-report", success: "ops-report" });
    // default/ops-report is tried first: from then on the slug pings it, not ops/report.
    const shadow = putJob(db, acme, "default", "ops-report", { schedule: "@daily" }, NOW).job;
    expect(pingSlug(db, key, report)).toBeNull();
    expect(pingSlug(db, key, shadow)).toEqual({ slug: "ops-report", success: "ops-report" });
    // A slug that reads like a suffix succeeds with /0.
    expect(pingSlug(db, key, putJob(db, acme, "default", "start", { schedule: "@daily" }, NOW).job)).toEqual({ slug: "start", success: "start/0" });
    expect(pingSlug(db, key, putJob(db, acme, "default", "42", { schedule: "@daily" }, NOW).job)).toEqual({ slug: "42", success: "42/0" });
    // acme's key never reaches globex's job.
    expect(pingSlug(db, key, secret)).toBeNull();
    expect(pingSlug(db, getTenantSettings(db, globex).ping_key, secret)).toEqual({ slug: "ops-secret", success: "ops-secret" });
  });
});

describe("PingLookup.token", () => {
  test("a deleted job stops answering at once, though its token was cached; the others keep what hangs off their cached entry", () => {
    const { db, acme, backup, report } = setup();
    const lookup = new PingLookup(db);
    const kept = lookup.token(report.ping_token)!;
    expect(lookup.token(backup.ping_token)?.id).toBe(backup.id);
    // The rate window of a job hangs off its entry: a delete elsewhere must not reset it.
    (kept as PingTarget & { window?: object }).window = { hits: 7 };
    deleteJob(db, acme, "default", "backup");
    expect(lookup.token(backup.ping_token)).toBeNull();
    expect(lookup.token(report.ping_token)).toBe(kept);
    expect((lookup.token(report.ping_token) as PingTarget & { window?: object }).window).toEqual({ hits: 7 });
  });

  test("a delete rolled back: the job answers again", () => {
    const { db, acme, backup } = setup();
    const lookup = new PingLookup(db);
    expect(lookup.token(backup.ping_token)?.id).toBe(backup.id);
    expect(() =>
      db.transaction(() => {
        deleteJob(db, acme, "default", "backup");
        expect(lookup.token(backup.ping_token)).toBeNull();
        throw new Error("refused");
      })(),
    ).toThrow("refused");
    jobStates(db).undrop();
    expect(lookup.token(backup.ping_token)?.id).toBe(backup.id);
  });
});
