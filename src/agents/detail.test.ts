// What is on a host, at the service: alice's web and database hosts, the jobs aimed at them and
// what their agents reported, counted for the agents list the same way agentDetail lists them;
// charlie's globex counts nothing of acme's.
import { beforeEach, describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { agentDetail, listAgentSummaries } from "./detail";
import { createEnrollmentToken, enroll } from "./enrollment";
import { report } from "./reports";
import type { Agent, InstanceCounts } from "./model";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
const BASE = "https://cron.example.com";
let db: Db;
let acme: string;
let globex: string;
let web1: Agent;

function enrollHost(tenantId: string, machine: string, role: string): Agent {
  const { token } = createEnrollmentToken(db, tenantId, null, { name: "hosts", labels: { role } }, T0);
  return enroll(db, { token, hostname: `${machine}.acme.test`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine }, 60, T0).agent;
}

const ALL = { limit: 500 };
const summariesOf = (tenantId: string, filter: { status?: "online" | "offline" } = {}) => listAgentSummaries(db, tenantId, { ...filter, ...ALL }).agents;

const job = (tenantId: string, name: string, selector: Record<string, string> | null, extra: Record<string, unknown> = {}) =>
  putJob(db, tenantId, "ops", name, { schedule: "@hourly", command: `/opt/${name}.sh`, ...(selector ? { agent: { selector } } : {}), ...extra }, T0).job;

/** The counts agentDetail's list of instances gives, when every instance listed is still assigned. */
function countsOfDetail(ref: string): InstanceCounts {
  const d = agentDetail(db, acme, ref);
  const of = (state: string) => d.jobs.filter((j) => j.state === state).length;
  return { assigned: d.jobs.length, applied: of("applied"), drifted: of("drifted"), error: of("error"), pending: of("pending") };
}

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
  web1 = enrollHost(acme, "web1", "web");
  enrollHost(acme, "db1", "db");
});

describe("the agents list's counts", () => {
  test("count what each host was given and what its agent reported, as the agent's page lists it", () => {
    const rotate = job(acme, "rotate", { role: "web" });
    const sitemap = job(acme, "sitemap", { hostname: "web1.acme.test" });
    const cache = job(acme, "cache", { role: "web" });
    job(acme, "backup", { role: "db" });
    job(acme, "vacuum", { role: "db" });
    // Neither goes to an agent: a ping-only job, and one with a command but no selector.
    putJob(db, acme, "ops", "pinged", { schedule: "@daily" }, T0);
    job(acme, "manual", null);
    report(db, web1, { jobs: [{ job_id: rotate.id, state: "applied" }, { job_id: sitemap.id, state: "drifted", message: "edited by hand" }, { job_id: cache.id, state: "error" }] }, BASE, T0 + 1000);

    const summaries = summariesOf(acme);
    expect(summaries.map((s) => [s.agent.name, s.jobs])).toEqual([
      ["db1", { assigned: 2, applied: 0, drifted: 0, error: 0, pending: 2 }],
      ["web1", { assigned: 3, applied: 1, drifted: 1, error: 1, pending: 0 }],
    ]);
    // The same figures as the agent's page: its instances by state.
    for (const s of summaries) expect(countsOfDetail(s.agent.name)).toEqual(s.jobs);
  });

  test("a job no longer aimed at the host counts by its reported state until the agent removes it; a disabled one is not assigned", () => {
    const rotate = job(acme, "rotate", { role: "web" });
    report(db, web1, { jobs: [{ job_id: rotate.id, state: "applied" }] }, BASE, T0 + 1000);
    job(acme, "rotate", { role: "db" });
    job(acme, "off", { role: "web" }, { enabled: false });
    const [, web] = summariesOf(acme);
    expect(web!.jobs).toEqual({ assigned: 0, applied: 1, drifted: 0, error: 0, pending: 0 });
    const [db1Summary] = summariesOf(acme);
    expect(db1Summary!.jobs).toEqual({ assigned: 1, applied: 0, drifted: 0, error: 0, pending: 1 });
  });

  test("come a page at a time, by name, each page saying where the next starts", () => {
    for (const n of [3, 4, 5]) enrollHost(acme, `web${n}`, "web");
    const first = listAgentSummaries(db, acme, { limit: 2 });
    expect([first.agents.map((s) => s.agent.name), first.next]).toEqual([["db1", "web1"], "web1"]);
    const second = listAgentSummaries(db, acme, { limit: 2, after: first.next! });
    expect([second.agents.map((s) => s.agent.name), second.next]).toEqual([["web3", "web4"], "web4"]);
    const last = listAgentSummaries(db, acme, { limit: 2, after: second.next! });
    expect([last.agents.map((s) => s.agent.name), last.next]).toEqual([["web5"], null]);
    expect(listAgentSummaries(db, acme, { limit: 5 }).next).toBeNull();
  });

  test("filter by status, and only the tenant's own agents and jobs", () => {
    job(acme, "rotate", { role: "web" });
    job(globex, "rotate", { role: "web" });
    enrollHost(globex, "gx1", "web");
    expect(summariesOf(acme, { status: "online" }).map((s) => s.agent.name)).toEqual(["db1", "web1"]);
    expect(summariesOf(acme, { status: "offline" })).toEqual([]);
    const theirs = summariesOf(globex);
    expect(theirs.map((s) => [s.agent.name, s.jobs.assigned])).toEqual([["gx1", 1]]);
  });
});
