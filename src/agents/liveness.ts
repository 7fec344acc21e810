// Liveness: heartbeats keep an agent online; the engine's sweep flips the ones whose heartbeats
// stopped offline. Going offline alerts the tenant's channels once for the host, and the missed
// runs of the jobs it hosts are folded into that alert; the next heartbeat resolves it.
import type { Db } from "../db";
import { checkLength, LIMITS } from "../limits";
import { AlertFanOut } from "../alerts/fanout";
import type { AlertEvent } from "../alerts/message";
import { eventHub } from "../events/hub";
import { dueAgentsAllTenants } from "./crosstenant";
import { getAgent } from "./registry";
import { MISSED_HEARTBEATS, offlineDeadline, type Agent, type AgentStatus } from "./model";

export interface HeartbeatInput {
  version?: string;
  hostname?: string;
  os_version?: string;
}

export interface AgentFlip {
  from: AgentStatus;
  to: AgentStatus;
  reason: string;
  at: number;
}

/**
 * A heartbeat: the agent is alive. Moves its offline deadline and, when it was offline,
 * flips it online and queues the resolve of its offline alert. Returns the number of
 * notifications queued (the caller kicks the dispatcher).
 */
export function heartbeat(db: Db, agent: Agent, input: HeartbeatInput, baseUrl: string, now: number): { agent: Agent; notifications: number } {
  checkLength("version", input.version, LIMITS.shortText);
  checkLength("hostname", input.hostname, LIMITS.hostname);
  checkLength("os_version", input.os_version, LIMITS.osVersion);
  let notifications = 0;
  db.transaction(() => {
    db.query(
      `UPDATE agents SET last_seen_at = $now, next_deadline = $deadline, version = COALESCE($version, version), hostname = COALESCE($hostname, hostname),
         os_version = COALESCE($os_version, os_version), updated_at = $now WHERE tenant_id = $tenant AND id = $id`,
    ).run({
      now,
      deadline: offlineDeadline(now, agent.interval_s),
      version: input.version ?? null,
      hostname: input.hostname ?? null,
      os_version: input.os_version ?? null,
      tenant: agent.tenant_id,
      id: agent.id,
    });
    if (agent.status === "offline") {
      notifications = flipAgent(db, agent, { from: "offline", to: "online", reason: "heartbeat received", at: now }, new AlertFanOut(db, baseUrl));
    }
  })();
  // Pages show the last heartbeat: one event per agent per window at most.
  eventHub(db).agent(agent.tenant_id, agent.id);
  return { agent: getAgent(db, agent.tenant_id, agent.id), notifications };
}

/** Writes an agent's flip and queues its trigger (going offline) or resolve (back online, if an alert went out). */
function flipAgent(db: Db, agent: Agent, f: AgentFlip, alerts: AlertFanOut): number {
  const flipId = db
    .query<{ id: number }, [string, string, string, string, string, number]>(
      "INSERT INTO agent_flips (tenant_id, agent_id, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .get(agent.tenant_id, agent.id, f.from, f.to, f.reason, f.at)!.id;
  const going = f.to === "offline";
  const event: AlertEvent | null = going ? "trigger" : agent.alerting ? "resolve" : null;
  db.query("UPDATE agents SET status = $to, status_since = $at, next_deadline = $deadline, alerting = $alerting WHERE tenant_id = $tenant AND id = $id").run({
    to: f.to,
    at: f.at,
    deadline: going ? null : offlineDeadline(f.at, agent.interval_s),
    alerting: going ? 1 : 0,
    tenant: agent.tenant_id,
    id: agent.id,
  });
  eventHub(db).agent(agent.tenant_id, agent.id);
  if (!event) return 0;
  const reason = going ? `${f.reason}; ${foldedJobs(hostedJobs(db, agent))}` : f.reason;
  return alerts.queue({
    tenantId: agent.tenant_id,
    event,
    job: null,
    agent,
    status: f.to,
    previousStatus: f.from,
    reason,
    since: f.at,
    incidentKey: `crontopus-agent-${agent.id}`,
    flipId: null,
    outboxKey: (channelId) => `agent-flip:${flipId}:${channelId}`,
    at: f.at,
  });
}

/** "namespace/name" of the jobs an agent reported, in order. */
function hostedJobs(db: Db, agent: Agent): string[] {
  return db
    .query<{ namespace: string; name: string }, [string, string]>(
      `SELECT j.namespace, j.name FROM agent_jobs aj JOIN jobs j ON j.id = aj.job_id AND j.tenant_id = aj.tenant_id
       WHERE aj.tenant_id = ? AND aj.agent_id = ? ORDER BY j.namespace, j.name`,
    )
    .all(agent.tenant_id, agent.id)
    .map((j) => `${j.namespace}/${j.name}`);
}

function foldedJobs(hosted: string[]): string {
  if (hosted.length === 0) return "it hosts no jobs";
  return `runs of the ${hosted.length} job(s) it hosts are folded into this alert: ${hosted.slice(0, 20).join(", ")}${hosted.length > 20 ? ", …" : ""}`;
}

/**
 * Agents of every tenant whose heartbeats stopped: flips them offline. Called by the engine's
 * tick, in its transaction.
 */
export function fireAgentDeadlinesAllTenants(db: Db, baseUrl: string, now: number, limit = 1000): { flips: number; notifications: number } {
  const due = dueAgentsAllTenants(db, now, limit);
  const alerts = new AlertFanOut(db, baseUrl);
  let notifications = 0;
  for (const a of due) {
    const missedFor = Math.round(((a.next_deadline ?? now) - (a.last_seen_at ?? a.created_at)) / 1000);
    const reason = `no heartbeat for ${missedFor}s (${MISSED_HEARTBEATS} intervals of ${a.interval_s}s)`;
    notifications += flipAgent(db, a, { from: "online", to: "offline", reason, at: a.next_deadline ?? now }, alerts);
  }
  return { flips: due.length, notifications };
}

/**
 * While every agent that hosts a job is offline, the job's missed runs are folded into the
 * agents' offline alert: returns those agents' names, or null when the job alerts on its own.
 */
export function foldedInto(db: Db, tenantId: string, jobId: string): string[] | null {
  const hosts = db
    .query<{ name: string; status: AgentStatus }, [string, string]>(
      "SELECT a.name, a.status FROM agent_jobs aj JOIN agents a ON a.id = aj.agent_id AND a.tenant_id = aj.tenant_id WHERE aj.tenant_id = ? AND aj.job_id = ?",
    )
    .all(tenantId, jobId);
  if (hosts.length === 0 || hosts.some((h) => h.status !== "offline")) return null;
  return hosts.map((h) => h.name);
}
