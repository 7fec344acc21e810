// The API's JSON of the agents feature: the one place that knows its field names and writes
// its times in ISO 8601. The services return domain values (model.ts).
import { isoTime } from "../time";
import type { Agent, AgentDetail, DiscoveredEntry, EnrollmentToken, JobAgent, JobInstance } from "./model";

export function agentJson(a: Agent) {
  return {
    id: a.id,
    name: a.name,
    hostname: a.hostname,
    machine_id: a.machine_id,
    platform: a.platform,
    arch: a.arch,
    os_version: a.os_version,
    scheduler: a.scheduler,
    version: a.version,
    labels: a.labels,
    status: a.status,
    status_since: isoTime(a.status_since),
    interval_s: a.interval_s,
    last_seen_at: isoTime(a.last_seen_at),
    last_sync_at: isoTime(a.last_sync_at),
    desired_etag: a.desired_etag,
    created_at: isoTime(a.created_at),
    updated_at: isoTime(a.updated_at),
  };
}
export type AgentJson = ReturnType<typeof agentJson>;

function jobInstanceJson(i: JobInstance) {
  return { job_id: i.job_id, job: `${i.namespace}/${i.name}`, job_status: i.job_status, state: i.state, message: i.message, updated_at: isoTime(i.updated_at) };
}

/** An entry shows as the agent found it, its times in ISO 8601. */
function discoveredJson(d: DiscoveredEntry) {
  return { ...d, first_seen_at: isoTime(d.first_seen_at), last_seen_at: isoTime(d.last_seen_at) };
}

export function agentDetailJson(d: AgentDetail) {
  return { ...agentJson(d), jobs: d.jobs.map(jobInstanceJson), discovered: d.discovered.map(discoveredJson) };
}
export type AgentDetailJson = ReturnType<typeof agentDetailJson>;

export function jobAgentJson(j: JobAgent) {
  return {
    agent_id: j.agent.id,
    name: j.agent.name,
    hostname: j.agent.hostname,
    status: j.agent.status,
    assigned: j.assigned,
    state: j.state,
    message: j.message,
    updated_at: isoTime(j.updated_at),
  };
}

export function enrollmentTokenJson(t: EnrollmentToken) {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    labels: t.labels,
    max_uses: t.max_uses,
    uses: t.uses,
    expires_at: isoTime(t.expires_at),
    usable: t.usable,
    created_at: isoTime(t.created_at),
    last_used_at: isoTime(t.last_used_at),
  };
}
export type EnrollmentTokenJson = ReturnType<typeof enrollmentTokenJson>;
