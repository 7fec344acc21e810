// The alert fan-out at the service: who hears of an alert, what they are sent, and that the
// same alert is queued once per channel however often it is raised.
import { beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { openSecretBox } from "../secrets";
import { tempDir } from "../../test/helpers";
import { createChannel, type ChannelDeps } from "./channels";
import { AlertFanOut, type Alert } from "./fanout";
import type { AlertMessage } from "./message";
import type { NotificationRow } from "./outbox";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
const deps: ChannelDeps = { secrets: openSecretBox(join(tempDir(), "secret.key")) };
let db: Db;
let acme: string;
let globex: string;
let jobId: string;

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme", name: "Acme Corp" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
  for (const name of ["ops", "oncall"]) createChannel(db, deps, acme, { name, type: "slack", config: { url: `https://hooks.slack.com/services/T0/B0/${name}` } }, T0);
  createChannel(db, deps, globex, { name: "ops", type: "slack", config: { url: "https://hooks.slack.com/services/T1/B1/ops" } }, T0);
  jobId = putJob(db, acme, "etl", "nightly-load", { schedule: "@daily" }, T0).job.id;
});

/** What was queued: the channel's tenant and name, the outbox key and the message. */
function queued() {
  return db
    .query<NotificationRow & { tenant: string; channel: string }, []>(
      "SELECT n.*, t.slug AS tenant, c.name AS channel FROM notifications n JOIN channels c ON c.id = n.channel_id JOIN tenants t ON t.id = n.tenant_id ORDER BY c.name",
    )
    .all()
    .map((n) => ({
      tenant: n.tenant,
      channel: n.channel,
      job_id: n.job_id,
      key: n.dedup_key.replace(n.channel_id, "<channel>").replace(jobId, "<job>"),
      message: JSON.parse(n.payload) as AlertMessage,
    }));
}

const jobAlert = (channels: string[] | null, extra: Partial<Alert> = {}): Alert => ({
  tenantId: acme,
  event: "trigger",
  job: { id: jobId, namespace: "etl", name: "nightly-load", channels },
  status: "down",
  previousStatus: "late",
  reason: "no check-in",
  since: T0,
  output: () => "line 1\nline 2\n",
  incidentKey: `crontopus-${jobId}`,
  flipId: null,
  outboxKey: (channelId) => `test:${jobId}:${channelId}`,
  at: T0 + 5000,
  ...extra,
});

test("a job's alert goes to the channels it names (unknown names skipped), with the message every sender renders", () => {
  const n = new AlertFanOut(db, "https://cron.example.com/").queue(jobAlert(["oncall", "gone"]));
  expect(n).toBe(1);
  expect(queued()).toEqual([
    {
      tenant: "acme",
      channel: "oncall",
      job_id: jobId,
      key: "test:<job>:<channel>",
      message: {
        event: "trigger",
        tenant: { slug: "acme", name: "Acme Corp" },
        job: { id: jobId, namespace: "etl", name: "nightly-load", url: "https://cron.example.com/jobs/etl/nightly-load" },
        status: "down",
        previous_status: "late",
        reason: "no check-in",
        since: new Date(T0).toISOString(),
        last_output: "line 1\nline 2",
        dedup_key: `crontopus-${jobId}`,
      },
    },
  ]);
});

test("an alert about no job (an agent offline) goes to every channel of its tenant and no other's", () => {
  const alert = jobAlert(null, { job: null, agent: { id: "a-1", name: "web1", hostname: "web1.acme.test" }, output: undefined });
  expect(new AlertFanOut(db, "https://cron.example.com").queue(alert)).toBe(2);
  const rows = queued();
  expect(rows.map((r) => [r.tenant, r.channel, r.job_id])).toEqual([
    ["acme", "oncall", null],
    ["acme", "ops", null],
  ]);
  expect(rows[0]!.message).toMatchObject({ job: null, agent: { name: "web1", url: "https://cron.example.com/agents/a-1" }, last_output: null });
});

test("raised again with the same outbox key, an alert queues nothing more", () => {
  const alerts = new AlertFanOut(db, "https://cron.example.com");
  expect(alerts.queue(jobAlert(null))).toBe(2);
  expect(alerts.queue(jobAlert(null))).toBe(0);
  expect(queued()).toHaveLength(2);
});

test("with no channel to hear of it, nothing is queued and the run's output is not read", () => {
  let read = false;
  const n = new AlertFanOut(db, "https://cron.example.com").queue(jobAlert(["nobody"], { output: () => ((read = true), "x") }));
  expect([n, read, queued()]).toEqual([0, false, []]);
});
