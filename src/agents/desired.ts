// The desired state: which jobs go to which host, and the document an agent fetches to
// install them (with the ETag it polls with).
import type { Db } from "../db";
import { sha256 } from "../tokens";
import { rowToJob, type Job, type JobRow } from "../jobs/jobs";
import type { Agent } from "./model";

/** A job goes to the agents whose host or labels match every pair of its selector. */
export function selectorMatches(selector: Record<string, string> | null, agent: Pick<Agent, "hostname" | "name" | "labels">): boolean {
  if (selector === null) return false;
  for (const [k, v] of Object.entries(selector)) {
    const have = k === "hostname" ? agent.hostname : k === "name" ? agent.name : agent.labels[k];
    if (have !== v) return false;
  }
  return true;
}

/** The tenant's jobs that go to some agent: enabled, with a command and an agent selector. */
export function assignableJobs(db: Db, tenantId: string): Job[] {
  return db
    .query<JobRow, [string]>(
      "SELECT * FROM jobs WHERE tenant_id = ? AND agent_selector IS NOT NULL AND command IS NOT NULL AND enabled = 1 ORDER BY namespace, name",
    )
    .all(tenantId)
    .map(rowToJob);
}

/** The jobs an agent must install: enabled, with a command, and a selector that matches it. */
export function jobsForAgent(db: Db, agent: Agent): Job[] {
  return assignableJobs(db, agent.tenant_id).filter((j) => selectorMatches(j.agent_selector, agent));
}

/** One job as the agent receives it. */
export interface DesiredJob {
  id: string;
  namespace: string;
  name: string;
  schedule: string;
  timezone: string;
  command: string;
  args: string[];
  working_dir: string | null;
  env: Record<string, string>;
  timeout_s: number | null;
  paused: boolean;
  user: string | null;
  /** The job's own check-in credential: `exec` running as another user reports with it. */
  checkin_token: string;
  /** Discovered entry ids this job was adopted from: the agent replaces those lines. */
  adopted_from: string[];
}

/**
 * What an agent fetches, as it is sent: the agent protocol's document (docs/agent-protocol.md),
 * whose ETag is a hash of exactly this, so its fields are the protocol's.
 */
export interface DesiredState {
  agent: { id: string; name: string; interval_s: number };
  jobs: DesiredJob[];
}

export function desiredState(db: Db, agent: Agent): { etag: string; state: DesiredState } {
  const adopted = new Map<string, string[]>();
  for (const d of db
    .query<{ id: string; adopted_job_id: string }, [string, string]>(
      "SELECT id, adopted_job_id FROM agent_discovered WHERE tenant_id = ? AND agent_id = ? AND adopted_job_id IS NOT NULL ORDER BY id",
    )
    .all(agent.tenant_id, agent.id)) {
    adopted.set(d.adopted_job_id, [...(adopted.get(d.adopted_job_id) ?? []), d.id]);
  }
  const state: DesiredState = {
    agent: { id: agent.id, name: agent.name, interval_s: agent.interval_s },
    jobs: jobsForAgent(db, agent).map((j) => ({
      id: j.id,
      namespace: j.namespace,
      name: j.name,
      schedule: j.schedule,
      timezone: j.timezone,
      command: j.command!,
      args: j.args,
      working_dir: j.working_dir,
      env: j.env,
      timeout_s: j.timeout_s,
      paused: j.paused,
      user: j.user,
      checkin_token: j.ping_token,
      adopted_from: adopted.get(j.id) ?? [],
    })),
  };
  const etag = `"${sha256(JSON.stringify(state)).slice(0, 32)}"`;
  return { etag, state };
}
