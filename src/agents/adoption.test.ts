// Adoption at the service: alice adopts the crontab lines her web server's agent found; charlie
// (another tenant) cannot reach them.
import { beforeEach, describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { Conflict, Invalid, NotFound } from "../errors";
import { getJob } from "../jobs/jobs";
import { adoptEntry, adoptionRefused } from "./adoption";
import { desiredState } from "./desired";
import { agentDetail } from "./detail";
import { createEnrollmentToken, enroll } from "./enrollment";
import { report, type ReportInput } from "./reports";
import type { Agent } from "./model";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
const BASE = "https://cron.example.com";
let db: Db;
let acme: string;
let globex: string;
let web1: Agent;

const line = (id: string, schedule: string, command: string, user: string | null = null) => ({ id, user, schedule, command, line: `${schedule} ${command}` });
const found: NonNullable<ReportInput["discovered"]> = [
  line("report", "0 5 * * *", "/usr/local/bin/report --pct 50\\%", "root"),
  line("boot", "@reboot", "/usr/local/bin/warm-up"),
  line("mail", "*/5 * * * *", "date | mail -s up ops%hello"),
  line("dump", "15 4 * * *", "pg_dump app"),
];

function enrollHost(tenantId: string, machine: string): Agent {
  const { token } = createEnrollmentToken(db, tenantId, null, { name: "hosts" }, T0);
  const info = { hostname: `${machine}.acme.test`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine };
  return enroll(db, { token, ...info }, 60, T0).agent;
}

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
  web1 = enrollHost(acme, "web1");
  report(db, web1, { jobs: [], discovered: found }, BASE, T0 + 1000);
});

describe("adopting a discovered entry", () => {
  test("creates a job aimed at the host, with the line's schedule, command and user, in UTC unless told", () => {
    const { job, warnings } = adoptEntry(db, acme, "web1", "report", { name: "report" }, T0 + 2000);
    expect(warnings).toEqual([]);
    expect(getJob(db, acme, "default", "report")).toMatchObject({
      id: job.id,
      schedule: "0 5 * * *",
      timezone: "UTC",
      // cron's "\%" is a literal "%".
      command: "/usr/local/bin/report --pct 50%",
      user: "root",
      agent_selector: { hostname: "web1.acme.test" },
      annotations: { "crontopus.io/adopted-from": "web1:report" },
    });
  });

  test("marks the entry, so that the agent replaces the line with the managed entry", () => {
    const { job } = adoptEntry(db, acme, web1.id, "report", { namespace: "ops", name: "report" }, T0 + 2000);
    expect(agentDetail(db, acme, "web1").discovered.find((d) => d.id === "report")!.adopted_job_id).toBe(job.id);
    const desired = desiredState(db, web1).state.jobs;
    expect(desired.map((j) => [j.namespace, j.name, j.adopted_from])).toEqual([["ops", "report", ["report"]]]);
  });

  test("keeps the zone the host's cron reads the line in, when given", () => {
    const { job } = adoptEntry(db, acme, "web1", "dump", { name: "dump", timezone: "Europe/Berlin" }, T0);
    expect(job.timezone).toBe("Europe/Berlin");
  });

  test("an entry is adopted once; a taken job name is a conflict and leaves the entry free", () => {
    adoptEntry(db, acme, "web1", "report", { name: "report" }, T0);
    expect(() => adoptEntry(db, acme, "web1", "report", { name: "report-again" }, T0)).toThrow(Conflict);
    expect(() => adoptEntry(db, acme, "web1", "dump", { name: "report" }, T0)).toThrow(Conflict);
    expect(agentDetail(db, acme, "web1").discovered.find((d) => d.id === "dump")!.adopted_job_id).toBeNull();
  });

  test("refuses @reboot lines and lines that feed standard input through '%'", () => {
    expect(() => adoptEntry(db, acme, "web1", "boot", { name: "boot" }, T0)).toThrow(Invalid);
    expect(() => adoptEntry(db, acme, "web1", "mail", { name: "mail" }, T0)).toThrow(Invalid);
    expect(agentDetail(db, acme, "web1").discovered.every((d) => d.adopted_job_id === null)).toBe(true);
  });

  test("says beforehand which lines it refuses and why, as the console shows them instead of a form", () => {
    const reasons = Object.fromEntries(found.map((d) => [d.id, adoptionRefused(d)]));
    expect(reasons).toEqual({
      report: null,
      boot: "an @reboot entry has no schedule Crontopus can monitor; leave it unmanaged",
      mail: "the line feeds standard input through '%'; adopt it by hand",
      dump: null,
    });
    for (const d of found.filter((d) => reasons[d.id])) {
      expect(() => adoptEntry(db, acme, "web1", d.id, { name: d.id }, T0)).toThrow(`entry: ${reasons[d.id]}`);
    }
  });

  test("an unknown entry, or another tenant's agent, is not found", () => {
    expect(() => adoptEntry(db, acme, "web1", "nope", { name: "nope" }, T0)).toThrow(NotFound);
    // charlie's globex has an agent of its own, but web1 and its entries are not his.
    enrollHost(globex, "gx1");
    expect(() => adoptEntry(db, globex, web1.id, "report", { name: "report" }, T0)).toThrow(NotFound);
    expect(() => adoptEntry(db, globex, "gx1", "report", { name: "report" }, T0)).toThrow(NotFound);
  });
});
