// The agents feature's values, as its services return them: times in epoch milliseconds,
// flags as booleans, labels as maps. The rows SQLite holds are read into them here and
// nowhere else; the API presents them (json.ts), the console will render them.
import type { JobStatus } from "../jobs/jobs";

export const AGENT_STATUSES = ["online", "offline"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const INSTANCE_STATES = ["applied", "drifted", "error"] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];
/** An agent is offline once this many heartbeat intervals pass without one. */
export const MISSED_HEARTBEATS = 3;

export type Labels = Record<string, string>;

/** An enrolled host. Its token is never part of it (only its hash is stored). */
export interface Agent {
  id: string;
  tenant_id: string;
  name: string;
  hostname: string;
  machine_id: string;
  platform: string;
  arch: string;
  os_version: string | null;
  scheduler: string;
  version: string | null;
  labels: Labels;
  /** The enrollment token it enrolled with last. */
  enrolled_with: string | null;
  status: AgentStatus;
  status_since: number;
  interval_s: number;
  last_seen_at: number | null;
  /** When it goes offline without another heartbeat; null while offline. */
  next_deadline: number | null;
  /** Its last report. */
  last_sync_at: number | null;
  /** The desired state its last report applied. */
  desired_etag: string | null;
  /** An offline alert went out: coming back online resolves it. */
  alerting: boolean;
  created_at: number;
  updated_at: number;
}

/** A job on an agent's host: the state the agent reported for it, or pending until it does. */
export interface JobInstance {
  job_id: string;
  namespace: string;
  name: string;
  job_status: JobStatus;
  state: InstanceState | "pending";
  message: string | null;
  updated_at: number | null;
}

/** An entry the agent found on its host that Crontopus does not manage. */
export interface DiscoveredEntry {
  id: string;
  user: string | null;
  schedule: string;
  command: string;
  line: string;
  /** The job it was adopted as; the agent swaps the line for a managed one. */
  adopted_job_id: string | null;
  first_seen_at: number;
  last_seen_at: number;
}

/** An agent with what is on its host. */
export interface AgentDetail extends Agent {
  jobs: JobInstance[];
  discovered: DiscoveredEntry[];
}

/** How an agent's job instances stand, counted: what agentDetail lists, in numbers. */
export interface InstanceCounts {
  /** Jobs whose selector matches the agent now (each is applied, drifted, error or pending). */
  assigned: number;
  /** Reported instances by state (a job no longer assigned counts here until the agent removes it). */
  applied: number;
  drifted: number;
  error: number;
  /** Assigned since the agent's last report. */
  pending: number;
}

/** An agent with its job instances counted: a row of the agents list. */
export interface AgentSummary {
  agent: Agent;
  jobs: InstanceCounts;
}

/** An agent a job goes to (or still reports it), with the state it reported for it. */
export interface JobAgent {
  agent: Agent;
  /** The job's selector matches the agent (false: the agent still reports the job, until it removes it). */
  assigned: boolean;
  state: InstanceState | "pending";
  message: string | null;
  updated_at: number | null;
}

export interface EnrollmentToken {
  id: string;
  tenant_id: string;
  name: string;
  /** The token's first characters, to recognise it by. */
  prefix: string;
  /** Given to every agent enrolled with it. */
  labels: Labels;
  max_uses: number | null;
  uses: number;
  expires_at: number | null;
  /** Neither used up nor expired (at the time it was read). */
  usable: boolean;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
}

/** An agents row: labels as JSON text, the alerting flag as 0/1, and the hash of its token. */
export interface AgentRow extends Omit<Agent, "labels" | "alerting"> {
  labels: string;
  alerting: number;
  token_hash: string | null;
}

/** An enrollment_tokens row: labels as JSON text, and the hash of its secret. */
export interface EnrollmentTokenRow extends Omit<EnrollmentToken, "labels" | "usable"> {
  labels: string;
  token_hash: string;
}

/** Labels as stored (JSON text; '{}' by default). */
export function parseLabels(text: string | null): Labels {
  return text ? (JSON.parse(text) as Labels) : {};
}

export function toAgent(r: AgentRow): Agent {
  const { token_hash: _, labels, alerting, ...fields } = r;
  return { ...fields, labels: parseLabels(labels), alerting: alerting === 1 };
}

export function toEnrollmentToken(r: EnrollmentTokenRow, now: number): EnrollmentToken {
  const { token_hash: _, labels, ...fields } = r;
  return { ...fields, labels: parseLabels(labels), usable: !enrollmentTokenSpent(r, now) };
}

/** Why an enrollment token takes no more enrollments, or null while it does. */
export function enrollmentTokenSpent(t: Pick<EnrollmentTokenRow, "max_uses" | "uses" | "expires_at">, now: number): "expired" | "used up" | null {
  if (t.expires_at !== null && t.expires_at <= now) return "expired";
  if (t.max_uses !== null && t.uses >= t.max_uses) return "used up";
  return null;
}

/** When an agent last seen at `seenAt` goes offline without another heartbeat. */
export function offlineDeadline(seenAt: number, intervalS: number): number {
  return seenAt + intervalS * MISSED_HEARTBEATS * 1000;
}
