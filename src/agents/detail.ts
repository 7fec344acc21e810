// Reading what is on a host: an agent with its job instances (as reported, or pending since
// assigned) and the entries it discovered; and the other way round, the agents of a job.
import type { Db } from "../db";
import { getJob } from "../jobs/jobs";
import { assignableJobs, jobsForAgent, selectorMatches } from "./desired";
import { findAgent, listAgents } from "./registry";
import type { AgentDetail, AgentStatus, AgentSummary, DiscoveredEntry, InstanceCounts, InstanceState, JobAgent, JobInstance } from "./model";

/** An agent (by id or name) with its job instances and discovered entries. */
export function agentDetail(db: Db, tenantId: string, ref: string): AgentDetail {
  const agent = findAgent(db, tenantId, ref);
  const reported = db
    .query<JobInstance & { state: InstanceState; updated_at: number }, [string, string]>(
      `SELECT aj.job_id, j.namespace, j.name, j.status AS job_status, aj.state, aj.message, aj.updated_at
       FROM agent_jobs aj JOIN jobs j ON j.id = aj.job_id AND j.tenant_id = aj.tenant_id
       WHERE aj.tenant_id = ? AND aj.agent_id = ? ORDER BY j.namespace, j.name`,
    )
    .all(tenantId, agent.id);
  const seen = new Set(reported.map((i) => i.job_id));
  // Assigned since the agent's last report.
  const pending = jobsForAgent(db, agent)
    .filter((j) => !seen.has(j.id))
    .map((j): JobInstance => ({ job_id: j.id, namespace: j.namespace, name: j.name, job_status: j.status, state: "pending", message: null, updated_at: null }));
  return { ...agent, jobs: [...reported, ...pending], discovered: discoveredEntries(db, tenantId, agent.id) };
}

/**
 * A page of the tenant's agents by name (all, or those in a status), each with its job instances
 * counted as agentDetail would list them: reads the tenant's assignable jobs and reported states
 * once, not once per agent. `next` is the `after` of the next page, null on the last.
 */
export function listAgentSummaries(
  db: Db,
  tenantId: string,
  filter: { status?: AgentStatus; after?: string; limit: number },
): { agents: AgentSummary[]; next: string | null } {
  const found = listAgents(db, tenantId, { ...filter, limit: filter.limit + 1 });
  const agents = found.slice(0, filter.limit);
  const next = found.length > filter.limit ? agents.at(-1)!.name : null;
  if (!agents.length) return { agents: [], next };
  const reported = new Map<string, Map<string, InstanceState>>();
  for (const r of db
    .query<{ agent_id: string; job_id: string; state: InstanceState }, [string]>(
      "SELECT aj.agent_id, aj.job_id, aj.state FROM agent_jobs aj JOIN jobs j ON j.id = aj.job_id AND j.tenant_id = aj.tenant_id WHERE aj.tenant_id = ?",
    )
    .all(tenantId)) {
    let states = reported.get(r.agent_id);
    if (!states) reported.set(r.agent_id, (states = new Map()));
    states.set(r.job_id, r.state);
  }
  const jobs = assignableJobs(db, tenantId);
  const summaries = agents.map((agent) => {
    const states = reported.get(agent.id) ?? new Map<string, InstanceState>();
    const counts: InstanceCounts = { assigned: 0, applied: 0, drifted: 0, error: 0, pending: 0 };
    for (const state of states.values()) counts[state]++;
    for (const job of jobs) {
      if (!selectorMatches(job.agent_selector, agent)) continue;
      counts.assigned++;
      if (!states.has(job.id)) counts.pending++;
    }
    return { agent, jobs: counts };
  });
  return { agents: summaries, next };
}

function discoveredEntries(db: Db, tenantId: string, agentId: string): DiscoveredEntry[] {
  return db
    .query<DiscoveredEntry, [string, string]>(
      `SELECT id, user, schedule, command, line, adopted_job_id, first_seen_at, last_seen_at FROM agent_discovered
       WHERE tenant_id = ? AND agent_id = ? ORDER BY first_seen_at, id`,
    )
    .all(tenantId, agentId);
}

/** The agents a job goes to, with the state each reported for it; and those still reporting it. */
export function jobAgents(db: Db, tenantId: string, namespace: string, name: string): JobAgent[] {
  const job = getJob(db, tenantId, namespace, name);
  const states = new Map(
    db
      .query<{ agent_id: string; state: InstanceState; message: string | null; updated_at: number }, [string, string]>(
        "SELECT agent_id, state, message, updated_at FROM agent_jobs WHERE tenant_id = ? AND job_id = ?",
      )
      .all(tenantId, job.id)
      .map((r) => [r.agent_id, r]),
  );
  const out: JobAgent[] = [];
  for (const agent of listAgents(db, tenantId)) {
    const assigned = job.command !== null && job.enabled && selectorMatches(job.agent_selector, agent);
    const s = states.get(agent.id);
    if (!assigned && !s) continue;
    out.push({ agent, assigned, state: s?.state ?? "pending", message: s?.message ?? null, updated_at: s?.updated_at ?? null });
  }
  return out;
}
