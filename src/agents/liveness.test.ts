// Liveness at the service: alice's and charlie's hosts stop sending heartbeats; the sweep (the
// one cross-tenant pass) flips them offline, each tenant hearing of its own host only.
import { beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { openSecretBox } from "../secrets";
import { tempDir } from "../../test/helpers";
import { createChannel } from "../alerts/channels";
import type { AlertMessage } from "../alerts/message";
import { putJob } from "../jobs/jobs";
import { createEnrollmentToken, enroll } from "./enrollment";
import { fireAgentDeadlinesAllTenants, foldedInto, heartbeat } from "./liveness";
import { findAgent } from "./registry";
import { report } from "./reports";
import type { Agent } from "./model";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
const BASE = "https://cron.example.com";
/** Three missed heartbeats of 60 s after enrolling at T0. */
const OFFLINE_AT = T0 + 180_000;
const secrets = openSecretBox(join(tempDir(), "secret.key"));
let db: Db;
let acme: string;
let globex: string;

function enrollHost(tenantId: string, machine: string): Agent {
  const { token } = createEnrollmentToken(db, tenantId, null, { name: "hosts", labels: { role: "web" } }, T0);
  return enroll(db, { token, hostname: `${machine}.test`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine }, 60, T0).agent;
}

/** The alerts queued, as [tenant slug, agent name, event]. */
function alerts(): [string, string | undefined, string][] {
  return db
    .query<{ slug: string; payload: string }, []>("SELECT t.slug, n.payload FROM notifications n JOIN tenants t ON t.id = n.tenant_id ORDER BY n.id")
    .all()
    .map((n) => {
      const m = JSON.parse(n.payload) as AlertMessage;
      return [n.slug, m.agent?.name, m.event];
    });
}

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
  for (const tenant of [acme, globex]) createChannel(db, { secrets }, tenant, { name: "ops", type: "slack", config: { url: "https://hooks.slack.com/services/T0/B0/x" } }, T0);
});

describe("the deadline sweep", () => {
  test("flips every tenant's silent agents offline once, each alerting its own tenant's channels", () => {
    enrollHost(acme, "web1");
    enrollHost(globex, "gx1");
    expect(fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT - 1)).toEqual({ flips: 0, notifications: 0 });
    expect(fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT + 5000)).toEqual({ flips: 2, notifications: 2 });
    expect(fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT + 60_000)).toEqual({ flips: 0, notifications: 0 });
    expect(alerts()).toEqual([
      ["acme", "web1", "trigger"],
      ["globex", "gx1", "trigger"],
    ]);
    expect(findAgent(db, acme, "web1")).toMatchObject({ status: "offline", status_since: OFFLINE_AT, next_deadline: null, alerting: true });
  });

  test("a heartbeat keeps an agent online; after it went offline, the heartbeat resolves its alert", () => {
    const web1 = enrollHost(acme, "web1");
    heartbeat(db, web1, {}, BASE, T0 + 60_000);
    expect(fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT + 5000).flips).toBe(0);
    fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT + 60_000);
    const back = heartbeat(db, findAgent(db, acme, "web1"), { version: "1.2.0" }, BASE, OFFLINE_AT + 90_000);
    expect(back.notifications).toBe(1);
    expect(back.agent).toMatchObject({ status: "online", alerting: false, version: "1.2.0", next_deadline: OFFLINE_AT + 90_000 + 180_000 });
    expect(alerts()).toEqual([
      ["acme", "web1", "trigger"],
      ["acme", "web1", "resolve"],
    ]);
  });
});

describe("folding a job's missed runs into its hosts' alert", () => {
  test("only while every agent that reported the job is offline, and only within the job's tenant", () => {
    const web1 = enrollHost(acme, "web1");
    const web2 = enrollHost(acme, "web2");
    const job = putJob(db, acme, "default", "rotate", { schedule: "@daily", command: "logrotate", agent: { selector: { role: "web" } } }, T0).job;
    for (const a of [web1, web2]) report(db, a, { jobs: [{ job_id: job.id, state: "applied" }] }, BASE, T0 + 1000);
    expect(foldedInto(db, acme, job.id)).toBeNull();
    heartbeat(db, web2, {}, BASE, T0 + 60_000);
    fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT);
    expect(foldedInto(db, acme, job.id)).toBeNull();
    fireAgentDeadlinesAllTenants(db, BASE, OFFLINE_AT + 60_000);
    expect(foldedInto(db, acme, job.id)?.sort()).toEqual(["web1", "web2"]);
    expect(foldedInto(db, globex, job.id)).toBeNull();
  });
});
