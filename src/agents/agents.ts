// Agents: hosts enrolled with an enrollment token (cte_…) that then speak the agent protocol
// with their own token (cta_…). Rules and SQL for enrollment, heartbeats, the desired state
// of a host, reports, discovered entries and adoption. Every surface (REST API, CLI, the
// console later) calls these. See docs/agent-protocol.md.
import type { Db } from "../db";
import { Conflict, Invalid, NotFound, Unauthorized } from "../errors";
import { newId, newToken, sha256 } from "../tokens";
import { createJob, getJobById, type Job, type JobRow, rowToJob } from "../jobs/jobs";
import { AlertFanOut } from "../alerts/fanout";
import type { AlertEvent } from "../alerts/message";
import { isoTime } from "../time";
import { checkCount, checkLength, LIMITS } from "../limits";

export const AGENT_STATUSES = ["online", "offline"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const INSTANCE_STATES = ["applied", "drifted", "error"] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];
/** An agent is offline once this many heartbeat intervals pass without one. */
export const MISSED_HEARTBEATS = 3;

const iso = (ms: number | null) => isoTime(ms);
const fromJson = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback);

// ---------------------------------------------------------------------------------------
// Enrollment tokens

interface EnrollmentTokenRow {
  id: string;
  tenant_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  labels: string;
  max_uses: number | null;
  uses: number;
  expires_at: number | null;
  created_by: string | null;
  created_at: number;
  last_used_at: number | null;
}

function enrollmentTokenJson(r: EnrollmentTokenRow, now: number) {
  const exhausted = r.max_uses !== null && r.uses >= r.max_uses;
  const expired = r.expires_at !== null && r.expires_at <= now;
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    labels: fromJson<Record<string, string>>(r.labels, {}),
    max_uses: r.max_uses,
    uses: r.uses,
    expires_at: iso(r.expires_at),
    usable: !exhausted && !expired,
    created_at: iso(r.created_at)!,
    last_used_at: iso(r.last_used_at),
  };
}
export type EnrollmentToken = ReturnType<typeof enrollmentTokenJson>;

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/i;

export function readLabels(field: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Invalid(field, "expected a map of string to string");
  checkCount(field, Object.keys(v), LIMITS.mapEntries);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!LABEL_KEY.test(k)) throw new Invalid(`${field}.${k}`, "is not a valid label key (letters, digits, '.', '_', '/', '-'; at most 63)");
    if (typeof val !== "string" || val.length > 253 || /[\r\n\0]/.test(val)) throw new Invalid(`${field}.${k}`, "expected a one-line string of at most 253 characters");
    out[k] = val;
  }
  return out;
}

export interface CreateEnrollmentTokenInput {
  name: string;
  labels?: Record<string, string>;
  max_uses?: number;
  expires_in_days?: number;
}

export function createEnrollmentToken(db: Db, tenantId: string, userId: string | null, input: CreateEnrollmentTokenInput, now: number) {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new Invalid("name", "must be 1 to 100 characters");
  const labels = readLabels("labels", input.labels);
  if (input.max_uses !== undefined && !(Number.isInteger(input.max_uses) && input.max_uses >= 1)) throw new Invalid("max_uses", "must be a whole number of at least 1");
  if (input.expires_in_days !== undefined && !(input.expires_in_days > 0 && input.expires_in_days <= 3650)) {
    throw new Invalid("expires_in_days", "must be between 1 and 3650");
  }
  const token = newToken("cte_");
  const id = newId();
  db.query(
    `INSERT INTO enrollment_tokens (id, tenant_id, name, token_hash, prefix, labels, max_uses, expires_at, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    tenantId,
    name,
    sha256(token),
    token.slice(0, 8),
    JSON.stringify(labels),
    input.max_uses ?? null,
    input.expires_in_days ? now + input.expires_in_days * 86_400_000 : null,
    userId,
    now,
  );
  return { token, enrollment_token: getEnrollmentToken(db, tenantId, id, now) };
}

export function getEnrollmentToken(db: Db, tenantId: string, id: string, now: number): EnrollmentToken {
  const r = db.query<EnrollmentTokenRow, [string, string]>("SELECT * FROM enrollment_tokens WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!r) throw new NotFound(`enrollment token ${id}`);
  return enrollmentTokenJson(r, now);
}

export function listEnrollmentTokens(db: Db, tenantId: string, now: number): EnrollmentToken[] {
  return db
    .query<EnrollmentTokenRow, [string]>("SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at")
    .all(tenantId)
    .map((r) => enrollmentTokenJson(r, now));
}

/** Revoking a token stops new enrollments with it; agents already enrolled keep their own tokens. */
export function revokeEnrollmentToken(db: Db, tenantId: string, id: string): void {
  const res = db.query("DELETE FROM enrollment_tokens WHERE tenant_id = ? AND id = ?").run(tenantId, id);
  if (res.changes === 0) throw new NotFound(`enrollment token ${id}`);
}

// ---------------------------------------------------------------------------------------
// Agents

export interface AgentRow {
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
  labels: string;
  token_hash: string | null;
  enrolled_with: string | null;
  status: AgentStatus;
  status_since: number;
  interval_s: number;
  last_seen_at: number | null;
  next_deadline: number | null;
  last_sync_at: number | null;
  desired_etag: string | null;
  alerting: number;
  created_at: number;
  updated_at: number;
}

export function agentJson(a: AgentRow) {
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
    labels: fromJson<Record<string, string>>(a.labels, {}),
    status: a.status,
    status_since: iso(a.status_since),
    interval_s: a.interval_s,
    last_seen_at: iso(a.last_seen_at),
    last_sync_at: iso(a.last_sync_at),
    desired_etag: a.desired_etag,
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
  };
}
export type AgentJson = ReturnType<typeof agentJson>;

export interface EnrollInput {
  token: string;
  hostname: string;
  name?: string;
  platform: string;
  arch: string;
  os_version?: string;
  scheduler: string;
  version?: string;
  machine_id: string;
  labels?: Record<string, string>;
}

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;

function checkName(field: string, v: string): string {
  if (!NAME_RE.test(v)) throw new Invalid(field, `"${v}" is not a valid name (letters, digits, '.', '_', '-'; at most 63; starting with a letter or digit)`);
  return v;
}

/**
 * Enrolls a host with an enrollment token and returns its agent token (cta_…, shown once).
 * The same machine enrolling again in the same tenant keeps its agent record (and its job
 * instances) and gets a new token; the old one stops working at once.
 */
export function enroll(db: Db, input: EnrollInput, intervalS: number, now: number): { agent: AgentRow; token: string; created: boolean } {
  const t = db.query<EnrollmentTokenRow, [string]>("SELECT * FROM enrollment_tokens WHERE token_hash = ?").get(sha256(input.token));
  if (!t || (t.expires_at !== null && t.expires_at <= now)) throw new Unauthorized("invalid or expired enrollment token");
  if (t.max_uses !== null && t.uses >= t.max_uses) throw new Unauthorized("this enrollment token has been used up");
  const hostname = input.hostname.trim();
  if (!hostname || hostname.length > 253 || /[\s\0]/.test(hostname)) throw new Invalid("hostname", "must be a host name without spaces");
  checkLength("platform", input.platform, LIMITS.shortText);
  checkLength("arch", input.arch, LIMITS.shortText);
  checkLength("scheduler", input.scheduler, LIMITS.shortText);
  checkLength("version", input.version, LIMITS.shortText);
  checkLength("os_version", input.os_version, LIMITS.osVersion);
  if (!/^[A-Za-z0-9._:{}-]{1,128}$/.test(input.machine_id)) throw new Invalid("machine_id", "must be 1 to 128 letters, digits or '.', '_', ':', '-', '{', '}'");
  const token = newToken("cta_");
  const existing = db
    .query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND machine_id = ?")
    .get(t.tenant_id, input.machine_id);
  // Enrolling again keeps what an operator set since (name, labels by PATCH) unless given anew.
  const name = checkName("name", input.name?.trim() || existing?.name || hostname.split(".")[0]!);
  const labels = {
    ...fromJson<Record<string, string>>(t.labels, {}),
    ...fromJson<Record<string, string>>(existing?.labels ?? null, {}),
    ...readLabels("labels", input.labels),
  };
  const fields = {
    name,
    hostname,
    platform: input.platform,
    arch: input.arch,
    os_version: input.os_version ?? null,
    scheduler: input.scheduler,
    version: input.version ?? null,
    labels: JSON.stringify(labels),
    token_hash: sha256(token),
    enrolled_with: t.id,
    deadline: now + intervalS * MISSED_HEARTBEATS * 1000,
    now,
  };
  const id = existing?.id ?? newId();
  db.transaction(() => {
    if (existing) {
      if (existing.name !== name) nameFree(db, t.tenant_id, name, id);
      db.query(
        `UPDATE agents SET name = $name, hostname = $hostname, platform = $platform, arch = $arch, os_version = $os_version,
           scheduler = $scheduler, version = $version, labels = $labels, token_hash = $token_hash, enrolled_with = $enrolled_with,
           last_seen_at = $now, next_deadline = $deadline, updated_at = $now
         WHERE id = $id`,
      ).run({ ...fields, id });
    } else {
      nameFree(db, t.tenant_id, name, id);
      db.query(
        `INSERT INTO agents (id, tenant_id, name, hostname, machine_id, platform, arch, os_version, scheduler, version, labels,
           token_hash, enrolled_with, status, status_since, interval_s, last_seen_at, next_deadline, created_at, updated_at)
         VALUES ($id, $tenant, $name, $hostname, $machine_id, $platform, $arch, $os_version, $scheduler, $version, $labels,
           $token_hash, $enrolled_with, 'online', $now, $interval, $now, $deadline, $now, $now)`,
      ).run({ ...fields, id, tenant: t.tenant_id, machine_id: input.machine_id, interval: intervalS });
    }
    db.query("UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = ? WHERE id = ?").run(now, t.id);
  })();
  return { agent: getAgentRow(db, t.tenant_id, id), token, created: !existing };
}

function nameFree(db: Db, tenantId: string, name: string, id: string): void {
  const other = db.query<{ id: string }, [string, string, string]>("SELECT id FROM agents WHERE tenant_id = ? AND name = ? AND id != ?").get(tenantId, name, id);
  if (other) throw new Conflict(`an agent named "${name}" exists already in this tenant; enroll with another --name`);
}

/** The agent behind a `cta_` token, or null. */
export function authenticateAgent(db: Db, token: string): AgentRow | null {
  if (!token.startsWith("cta_")) return null;
  return db.query<AgentRow, [string]>("SELECT * FROM agents WHERE token_hash = ?").get(sha256(token));
}

export function getAgentRow(db: Db, tenantId: string, id: string): AgentRow {
  const a = db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!a) throw new NotFound(`agent ${id}`);
  return a;
}

/** By id, or by name. */
export function findAgent(db: Db, tenantId: string, ref: string): AgentRow {
  const a =
    db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND id = ?").get(tenantId, ref) ??
    db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND name = ?").get(tenantId, ref);
  if (!a) throw new NotFound(`agent ${ref}`);
  return a;
}

export function listAgents(db: Db, tenantId: string, filter: { status?: AgentStatus } = {}): AgentRow[] {
  if (filter.status) {
    return db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND status = ? ORDER BY name").all(tenantId, filter.status);
  }
  return db.query<AgentRow, [string]>("SELECT * FROM agents WHERE tenant_id = ? ORDER BY name").all(tenantId);
}

export interface AgentPatch {
  name?: string;
  labels?: Record<string, string>;
  interval_s?: number;
}

export function patchAgent(db: Db, tenantId: string, id: string, patch: AgentPatch, now: number): AgentRow {
  const a = findAgent(db, tenantId, id);
  const name = patch.name !== undefined ? checkName("name", patch.name) : a.name;
  if (name !== a.name) nameFree(db, tenantId, name, a.id);
  const labels = patch.labels !== undefined ? JSON.stringify(readLabels("labels", patch.labels)) : a.labels;
  if (patch.interval_s !== undefined && !(Number.isInteger(patch.interval_s) && patch.interval_s >= 1 && patch.interval_s <= 86_400)) {
    throw new Invalid("interval_s", "must be a whole number of seconds from 1 to 86400");
  }
  const interval = patch.interval_s ?? a.interval_s;
  // A longer interval moves the offline deadline out; a shorter one takes effect from the next heartbeat.
  const deadline = a.status === "online" && a.last_seen_at !== null ? Math.max(a.next_deadline ?? 0, a.last_seen_at + interval * MISSED_HEARTBEATS * 1000) : a.next_deadline;
  db.query("UPDATE agents SET name = ?, labels = ?, interval_s = ?, next_deadline = ?, updated_at = ? WHERE id = ?").run(name, labels, interval, deadline, now, a.id);
  return getAgentRow(db, tenantId, a.id);
}

/** Forgets an agent and revokes its token. Its host keeps its entries until `agent uninstall`. */
export function deleteAgent(db: Db, tenantId: string, id: string): void {
  const a = findAgent(db, tenantId, id);
  db.query("DELETE FROM agents WHERE id = ?").run(a.id);
}

// ---------------------------------------------------------------------------------------
// Which jobs go to which host

/** A job goes to the agents whose host or labels match every pair of its selector. */
export function selectorMatches(selector: Record<string, string> | null, agent: Pick<AgentRow, "hostname" | "name" | "labels">): boolean {
  if (selector === null) return false;
  const labels = fromJson<Record<string, string>>(agent.labels, {});
  for (const [k, v] of Object.entries(selector)) {
    const have = k === "hostname" ? agent.hostname : k === "name" ? agent.name : labels[k];
    if (have !== v) return false;
  }
  return true;
}

/** The jobs an agent must install: enabled, with a command, and a selector that matches it. */
export function jobsForAgent(db: Db, agent: AgentRow): Job[] {
  return db
    .query<JobRow, [string]>(
      "SELECT * FROM jobs WHERE tenant_id = ? AND agent_selector IS NOT NULL AND command IS NOT NULL AND enabled = 1 ORDER BY namespace, name",
    )
    .all(agent.tenant_id)
    .map(rowToJob)
    .filter((j) => selectorMatches(j.agent_selector, agent));
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

export interface DesiredState {
  agent: { id: string; name: string; interval_s: number };
  jobs: DesiredJob[];
}

export function desiredState(db: Db, agent: AgentRow): { etag: string; state: DesiredState } {
  const adopted = new Map<string, string[]>();
  for (const d of db
    .query<{ id: string; adopted_job_id: string }, [string]>(
      "SELECT id, adopted_job_id FROM agent_discovered WHERE agent_id = ? AND adopted_job_id IS NOT NULL ORDER BY id",
    )
    .all(agent.id)) {
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

// ---------------------------------------------------------------------------------------
// Heartbeats, reports and the online/offline status

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
export function heartbeat(db: Db, agent: AgentRow, input: HeartbeatInput, baseUrl: string, now: number): { agent: AgentRow; notifications: number } {
  checkLength("version", input.version, LIMITS.shortText);
  checkLength("hostname", input.hostname, LIMITS.hostname);
  checkLength("os_version", input.os_version, LIMITS.osVersion);
  let notifications = 0;
  db.transaction(() => {
    const deadline = now + agent.interval_s * MISSED_HEARTBEATS * 1000;
    db.query(
      `UPDATE agents SET last_seen_at = ?, next_deadline = ?, version = COALESCE(?, version), hostname = COALESCE(?, hostname),
         os_version = COALESCE(?, os_version), updated_at = ? WHERE id = ?`,
    ).run(now, deadline, input.version ?? null, input.hostname ?? null, input.os_version ?? null, now, agent.id);
    if (agent.status === "offline") {
      notifications = flipAgent(db, agent, { from: "offline", to: "online", reason: "heartbeat received", at: now }, baseUrl);
    }
  })();
  return { agent: getAgentRow(db, agent.tenant_id, agent.id), notifications };
}

/** Writes an agent's flip and queues its trigger (going offline) or resolve (back online, if an alert went out). */
export function flipAgent(db: Db, agent: AgentRow, f: AgentFlip, baseUrl: string): number {
  const flipId = db
    .query<{ id: number }, [string, string, string, string, string, number]>(
      "INSERT INTO agent_flips (tenant_id, agent_id, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .get(agent.tenant_id, agent.id, f.from, f.to, f.reason, f.at)!.id;
  const going = f.to === "offline";
  const event: AlertEvent | null = going ? "trigger" : agent.alerting ? "resolve" : null;
  db.query("UPDATE agents SET status = ?, status_since = ?, next_deadline = ?, alerting = ? WHERE id = ?").run(
    f.to,
    f.at,
    going ? null : f.at + agent.interval_s * MISSED_HEARTBEATS * 1000,
    going ? 1 : 0,
    agent.id,
  );
  if (!event) return 0;
  const hosted = db
    .query<{ namespace: string; name: string }, [string]>(
      "SELECT j.namespace, j.name FROM agent_jobs aj JOIN jobs j ON j.id = aj.job_id WHERE aj.agent_id = ? ORDER BY j.namespace, j.name",
    )
    .all(agent.id)
    .map((j) => `${j.namespace}/${j.name}`);
  const reason = going
    ? `${f.reason}; ${hosted.length ? `runs of the ${hosted.length} job(s) it hosts are folded into this alert: ${hosted.slice(0, 20).join(", ")}${hosted.length > 20 ? ", …" : ""}` : "it hosts no jobs"}`
    : f.reason;
  return new AlertFanOut(db, baseUrl).queue({
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

/** Agents whose heartbeats stopped: flips them offline. Called by the engine's tick, in its transaction. */
export function fireAgentDeadlines(db: Db, baseUrl: string, now: number, limit = 1000): { flips: number; notifications: number } {
  const due = db
    .query<AgentRow, [number, number]>("SELECT * FROM agents WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline LIMIT ?")
    .all(now, limit);
  let notifications = 0;
  for (const a of due) {
    const missedFor = Math.round(((a.next_deadline ?? now) - (a.last_seen_at ?? a.created_at)) / 1000);
    notifications += flipAgent(db, a, { from: "online", to: "offline", reason: `no heartbeat for ${missedFor}s (${MISSED_HEARTBEATS} intervals of ${a.interval_s}s)`, at: a.next_deadline ?? now }, baseUrl);
  }
  return { flips: due.length, notifications };
}

/**
 * While every agent that hosts a job is offline, the job's missed runs are folded into the
 * agents' offline alert: returns those agents' names, or null when the job alerts on its own.
 */
export function foldedInto(db: Db, jobId: string): string[] | null {
  const hosts = db
    .query<{ name: string; status: AgentStatus }, [string]>("SELECT a.name, a.status FROM agent_jobs aj JOIN agents a ON a.id = aj.agent_id WHERE aj.job_id = ?")
    .all(jobId);
  if (hosts.length === 0 || hosts.some((h) => h.status !== "offline")) return null;
  return hosts.map((h) => h.name);
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

export interface ReportInput {
  etag?: string;
  jobs: { job_id: string; state: InstanceState; message?: string }[];
  discovered?: { id: string; user?: string | null; schedule: string; command: string; line: string }[];
}

/**
 * What the agent applied: the complete set of job instances on the host and its unmanaged
 * entries. A job reported `drifted` (its entry was edited or removed by hand, and restored)
 * alerts the job's channels.
 */
export function report(db: Db, agent: AgentRow, input: ReportInput, baseUrl: string, now: number): { notifications: number } {
  checkReport(input);
  let notifications = 0;
  db.transaction(() => {
    const known = new Set(
      db.query<{ id: string }, [string]>("SELECT id FROM jobs WHERE tenant_id = ?").all(agent.tenant_id).map((r) => r.id),
    );
    const seen = new Set<string>();
    for (const [i, j] of input.jobs.entries()) {
      if (!(INSTANCE_STATES as readonly string[]).includes(j.state)) throw new Invalid(`jobs[${i}].state`, `expected one of ${INSTANCE_STATES.join(", ")}`);
      if (!known.has(j.job_id) || seen.has(j.job_id)) continue; // deleted meanwhile, or listed twice
      seen.add(j.job_id);
      db.query(
        `INSERT INTO agent_jobs (agent_id, job_id, tenant_id, state, message, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, job_id) DO UPDATE SET state = excluded.state, message = excluded.message, updated_at = excluded.updated_at`,
      ).run(agent.id, j.job_id, agent.tenant_id, j.state, j.message ?? null, now);
      if (j.state === "drifted") notifications += notifyDrift(db, agent, j.job_id, j.message ?? "its managed entry was changed by hand", baseUrl, now);
    }
    const stale = db.query<{ job_id: string }, [string]>("SELECT job_id FROM agent_jobs WHERE agent_id = ?").all(agent.id);
    for (const s of stale) if (!seen.has(s.job_id)) db.query("DELETE FROM agent_jobs WHERE agent_id = ? AND job_id = ?").run(agent.id, s.job_id);

    if (input.discovered) {
      const ids = new Set<string>();
      for (const d of input.discovered) {
        ids.add(d.id);
        db.query(
          `INSERT INTO agent_discovered (agent_id, id, tenant_id, user, schedule, command, line, first_seen_at, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (agent_id, id) DO UPDATE SET user = excluded.user, schedule = excluded.schedule, command = excluded.command,
             line = excluded.line, last_seen_at = excluded.last_seen_at`,
        ).run(agent.id, d.id, agent.tenant_id, d.user ?? null, d.schedule, d.command, d.line, now, now);
      }
      // Gone from the host (removed by hand, or replaced by the managed entry after adoption).
      for (const old of db.query<{ id: string }, [string]>("SELECT id FROM agent_discovered WHERE agent_id = ?").all(agent.id)) {
        if (!ids.has(old.id)) db.query("DELETE FROM agent_discovered WHERE agent_id = ? AND id = ?").run(agent.id, old.id);
      }
    }
    db.query("UPDATE agents SET last_sync_at = ?, desired_etag = COALESCE(?, desired_etag) WHERE id = ?").run(now, input.etag ?? null, agent.id);
  })();
  return { notifications };
}

function notifyDrift(db: Db, agent: AgentRow, jobId: string, detail: string, baseUrl: string, now: number): number {
  const job = getJobById(db, agent.tenant_id, jobId);
  return new AlertFanOut(db, baseUrl).queue({
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

// ---------------------------------------------------------------------------------------
// Reading: an agent with its instances and discovered entries; a job's agents

export function agentDetail(db: Db, tenantId: string, ref: string) {
  const a = findAgent(db, tenantId, ref);
  const instances = db
    .query<{ job_id: string; namespace: string; name: string; state: InstanceState; message: string | null; updated_at: number; status: string }, [string]>(
      `SELECT aj.job_id, j.namespace, j.name, aj.state, aj.message, aj.updated_at, j.status
       FROM agent_jobs aj JOIN jobs j ON j.id = aj.job_id WHERE aj.agent_id = ? ORDER BY j.namespace, j.name`,
    )
    .all(a.id);
  const assigned = jobsForAgent(db, a);
  const reported = new Set(instances.map((i) => i.job_id));
  return {
    ...agentJson(a),
    jobs: [
      ...instances.map((i) => ({ job_id: i.job_id, job: `${i.namespace}/${i.name}`, job_status: i.status, state: i.state, message: i.message, updated_at: iso(i.updated_at) })),
      // Assigned since the agent's last report.
      ...assigned.filter((j) => !reported.has(j.id)).map((j) => ({ job_id: j.id, job: `${j.namespace}/${j.name}`, job_status: j.status, state: "pending" as const, message: null, updated_at: null })),
    ],
    discovered: discoveredEntries(db, a.id),
  };
}

function discoveredEntries(db: Db, agentId: string) {
  return db
    .query<{ id: string; user: string | null; schedule: string; command: string; line: string; adopted_job_id: string | null; first_seen_at: number; last_seen_at: number }, [string]>(
      "SELECT id, user, schedule, command, line, adopted_job_id, first_seen_at, last_seen_at FROM agent_discovered WHERE agent_id = ? ORDER BY first_seen_at, id",
    )
    .all(agentId)
    .map((d) => ({ ...d, first_seen_at: iso(d.first_seen_at), last_seen_at: iso(d.last_seen_at) }));
}

/** The agents a job goes to, with the state each reported for it. */
export function jobAgents(db: Db, tenantId: string, jobId: string) {
  const job = getJobById(db, tenantId, jobId);
  const states = new Map(
    db
      .query<{ agent_id: string; state: InstanceState; message: string | null; updated_at: number }, [string]>(
        "SELECT agent_id, state, message, updated_at FROM agent_jobs WHERE job_id = ?",
      )
      .all(job.id)
      .map((r) => [r.agent_id, r]),
  );
  const out = [];
  for (const a of listAgents(db, tenantId)) {
    const matches = job.command !== null && job.enabled && selectorMatches(job.agent_selector, a);
    const s = states.get(a.id);
    if (!matches && !s) continue;
    out.push({
      agent_id: a.id,
      name: a.name,
      hostname: a.hostname,
      status: a.status,
      assigned: matches,
      state: s?.state ?? ("pending" as const),
      message: s?.message ?? null,
      updated_at: iso(s?.updated_at ?? null),
    });
  }
  return out;
}

/**
 * Adopts a discovered entry: creates a job with its schedule and command, aimed at this host
 * (selector hostname=<host>), and marks the entry so the agent swaps the line for a managed
 * one on its next pass. 409 when the entry was adopted already or the job exists.
 */
export function adoptEntry(db: Db, tenantId: string, agentRef: string, entryId: string, target: { namespace?: string; name: string }, timezone: string, now: number) {
  const a = findAgent(db, tenantId, agentRef);
  const entry = db
    .query<{ id: string; user: string | null; schedule: string; command: string; adopted_job_id: string | null }, [string, string]>(
      "SELECT id, user, schedule, command, adopted_job_id FROM agent_discovered WHERE agent_id = ? AND id = ?",
    )
    .get(a.id, entryId);
  if (!entry) throw new NotFound(`discovered entry ${entryId}`);
  if (entry.adopted_job_id) throw new Conflict(`entry ${entryId} was adopted already`);
  if (entry.schedule === "@reboot") throw new Invalid("entry", "an @reboot entry has no schedule Crontopus can monitor; leave it unmanaged");
  return db.transaction(() => {
    const doc: Record<string, unknown> = {
      name: target.name,
      namespace: target.namespace ?? "default",
      schedule: entry.schedule,
      timezone,
      command: unescapeCron(entry.command),
      agent: { selector: { hostname: a.hostname } },
      annotations: { "crontopus.io/adopted-from": `${a.name}:${entry.id}` },
    };
    if (entry.user) doc.user = entry.user;
    const { job, warnings } = createJob(db, tenantId, doc, now);
    db.query("UPDATE agent_discovered SET adopted_job_id = ? WHERE agent_id = ? AND id = ?").run(job.id, a.id, entry.id);
    return { job, warnings };
  })();
}

/** A command as cron reads it from a line: "\%" is a literal "%" (the only escape both crons share). */
function unescapeCron(command: string): string {
  if (/(^|[^\\])%/.test(command)) throw new Invalid("entry", "the line feeds standard input through '%'; adopt it by hand");
  return command.replace(/\\%/g, "%");
}
