// Reports: after each pass an agent tells what it applied (a state per job instance) and the
// host's unmanaged entries. A job reported drifted (its entry was edited or removed by hand,
// and the agent restored it) alerts the job's channels.
import type { Db } from "../db";
import { Invalid } from "../errors";
import { checkCount, checkLength, LIMITS } from "../limits";
import { getJobById } from "../jobs/jobs";
import { AlertFanOut } from "../alerts/fanout";
import { eventHub } from "../events/hub";
import { INSTANCE_STATES, type Agent, type InstanceState } from "./model";

export interface ReportInput {
  etag?: string;
  jobs: { job_id: string; state: InstanceState; message?: string }[];
  discovered?: { id: string; user?: string | null; schedule: string; command: string; line: string }[];
}

/** What an agent tells about its host is stored: each text has its limit (src/limits.ts). */
function checkReport(input: ReportInput): void {
  checkLength("etag", input.etag, LIMITS.osVersion);
  checkCount("jobs", input.jobs, LIMITS.reportedJobs);
  input.jobs.forEach((j, i) => {
    checkLength(`jobs[${i}].job_id`, j.job_id, LIMITS.shortText);
    checkLength(`jobs[${i}].message`, j.message, LIMITS.message);
  });
  checkCount("discovered", input.discovered, LIMITS.discovered);
  input.discovered?.forEach((d, i) => {
    checkLength(`discovered[${i}].id`, d.id, LIMITS.osVersion);
    checkLength(`discovered[${i}].user`, d.user, LIMITS.osVersion);
    checkLength(`discovered[${i}].schedule`, d.schedule, LIMITS.schedule);
    checkLength(`discovered[${i}].command`, d.command, LIMITS.line);
    checkLength(`discovered[${i}].line`, d.line, LIMITS.line);
  });
}

/**
 * What the agent applied: the complete set of job instances on the host and, when given, its
 * unmanaged entries (the whole list each time). Returns the number of notifications queued.
 */
export function report(db: Db, agent: Agent, input: ReportInput, baseUrl: string, now: number): { notifications: number } {
  checkReport(input);
  const tenant = agent.tenant_id;
  const alerts = new AlertFanOut(db, baseUrl);
  let notifications = 0;
  db.transaction(() => {
    const known = new Set(db.query<{ id: string }, [string]>("SELECT id FROM jobs WHERE tenant_id = ?").all(tenant).map((r) => r.id));
    const seen = new Set<string>();
    for (const [i, j] of input.jobs.entries()) {
      if (!(INSTANCE_STATES as readonly string[]).includes(j.state)) throw new Invalid(`jobs[${i}].state`, `expected one of ${INSTANCE_STATES.join(", ")}`);
      if (!known.has(j.job_id) || seen.has(j.job_id)) continue; // deleted meanwhile, or listed twice
      seen.add(j.job_id);
      db.query(
        `INSERT INTO agent_jobs (agent_id, job_id, tenant_id, state, message, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, job_id) DO UPDATE SET state = excluded.state, message = excluded.message, updated_at = excluded.updated_at
         WHERE agent_jobs.tenant_id = excluded.tenant_id`,
      ).run(agent.id, j.job_id, tenant, j.state, j.message ?? null, now);
      if (j.state === "drifted") notifications += alertDrift(db, alerts, agent, j.job_id, j.message ?? "its managed entry was changed by hand", now);
    }
    const reported = db.query<{ job_id: string }, [string, string]>("SELECT job_id FROM agent_jobs WHERE tenant_id = ? AND agent_id = ?").all(tenant, agent.id);
    for (const r of reported) {
      if (!seen.has(r.job_id)) db.query("DELETE FROM agent_jobs WHERE tenant_id = ? AND agent_id = ? AND job_id = ?").run(tenant, agent.id, r.job_id);
    }

    if (input.discovered) {
      const ids = new Set<string>();
      for (const d of input.discovered) {
        ids.add(d.id);
        db.query(
          `INSERT INTO agent_discovered (agent_id, id, tenant_id, user, schedule, command, line, first_seen_at, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (agent_id, id) DO UPDATE SET user = excluded.user, schedule = excluded.schedule, command = excluded.command,
             line = excluded.line, last_seen_at = excluded.last_seen_at
           WHERE agent_discovered.tenant_id = excluded.tenant_id`,
        ).run(agent.id, d.id, tenant, d.user ?? null, d.schedule, d.command, d.line, now, now);
      }
      // Gone from the host (removed by hand, or replaced by the managed entry after adoption).
      for (const old of db.query<{ id: string }, [string, string]>("SELECT id FROM agent_discovered WHERE tenant_id = ? AND agent_id = ?").all(tenant, agent.id)) {
        if (!ids.has(old.id)) db.query("DELETE FROM agent_discovered WHERE tenant_id = ? AND agent_id = ? AND id = ?").run(tenant, agent.id, old.id);
      }
    }
    db.query("UPDATE agents SET last_sync_at = ?, desired_etag = COALESCE(?, desired_etag) WHERE tenant_id = ? AND id = ?").run(now, input.etag ?? null, tenant, agent.id);
  })();
  // Its last sync and the states of its job instances.
  eventHub(db).agent(tenant, agent.id);
  return { notifications };
}

function alertDrift(db: Db, alerts: AlertFanOut, agent: Agent, jobId: string, detail: string, now: number): number {
  const job = getJobById(db, agent.tenant_id, jobId);
  return alerts.queue({
    tenantId: agent.tenant_id,
    event: "drift",
    job,
    agent,
    status: job.status,
    previousStatus: null,
    reason: `on ${agent.name} (${agent.hostname}): ${detail}; the agent restored it`,
    since: now,
    incidentKey: `crontopus-drift-${agent.id}-${job.id}`,
    flipId: null,
    outboxKey: (channelId) => `drift:${agent.id}:${job.id}:${now}:${channelId}`,
    at: now,
  });
}
