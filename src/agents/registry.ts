// The register of enrolled agents: finding, listing, renaming, relabelling and forgetting
// them, with the rules for their names and labels. Enrollment adds to it (enrollment.ts).
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { checkCount, LIMITS } from "../limits";
import { eventHub } from "../events/hub";
import { offlineDeadline, toAgent, type Agent, type AgentRow, type AgentStatus, type Labels } from "./model";

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/i;

export function readLabels(field: string, v: unknown): Labels {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Invalid(field, "expected a map of string to string");
  checkCount(field, Object.keys(v), LIMITS.mapEntries);
  const out: Labels = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!LABEL_KEY.test(k)) throw new Invalid(`${field}.${k}`, "is not a valid label key (letters, digits, '.', '_', '/', '-'; at most 63)");
    if (typeof val !== "string" || val.length > 253 || /[\r\n\0]/.test(val)) throw new Invalid(`${field}.${k}`, "expected a one-line string of at most 253 characters");
    out[k] = val;
  }
  return out;
}

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;

export function checkName(field: string, v: string): string {
  if (!NAME_RE.test(v)) throw new Invalid(field, `"${v}" is not a valid name (letters, digits, '.', '_', '-'; at most 63; starting with a letter or digit)`);
  return v;
}

/** An agent's name is unique in its tenant. */
export function nameFree(db: Db, tenantId: string, name: string, id: string): void {
  const other = db.query<{ id: string }, [string, string, string]>("SELECT id FROM agents WHERE tenant_id = ? AND name = ? AND id != ?").get(tenantId, name, id);
  if (other) throw new Conflict(`an agent named "${name}" exists already in this tenant; enroll with another --name`);
}

export function getAgent(db: Db, tenantId: string, id: string): Agent {
  const a = db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!a) throw new NotFound(`agent ${id}`);
  return toAgent(a);
}

/** By id, or by name. */
export function findAgent(db: Db, tenantId: string, ref: string): Agent {
  const a =
    db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND id = ?").get(tenantId, ref) ??
    db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND name = ?").get(tenantId, ref);
  if (!a) throw new NotFound(`agent ${ref}`);
  return toAgent(a);
}

/** The agent enrolled from this machine in the tenant, if any. */
export function findAgentByMachine(db: Db, tenantId: string, machineId: string): Agent | null {
  const a = db.query<AgentRow, [string, string]>("SELECT * FROM agents WHERE tenant_id = ? AND machine_id = ?").get(tenantId, machineId);
  return a ? toAgent(a) : null;
}

export interface AgentFilter {
  status?: AgentStatus;
  /** Only the agents named after this one (a page of the list starts there). */
  after?: string;
  /** At most this many; all when left out. */
  limit?: number;
}

/** The tenant's agents by name. */
export function listAgents(db: Db, tenantId: string, filter: AgentFilter = {}): Agent[] {
  return db
    .query<AgentRow, { $tenant: string; $status: string | null; $after: string | null; $limit: number }>(
      `SELECT * FROM agents WHERE tenant_id = $tenant AND ($status IS NULL OR status = $status) AND ($after IS NULL OR name > $after)
       ORDER BY name LIMIT $limit`,
    )
    .all({ $tenant: tenantId, $status: filter.status ?? null, $after: filter.after ?? null, $limit: filter.limit ?? -1 })
    .map(toAgent);
}

export interface AgentPatch {
  name?: string;
  labels?: Record<string, string>;
  interval_s?: number;
}

export function patchAgent(db: Db, tenantId: string, ref: string, patch: AgentPatch, now: number): Agent {
  const a = findAgent(db, tenantId, ref);
  const name = patch.name !== undefined ? checkName("name", patch.name) : a.name;
  if (name !== a.name) nameFree(db, tenantId, name, a.id);
  const labels = patch.labels !== undefined ? readLabels("labels", patch.labels) : a.labels;
  if (patch.interval_s !== undefined && !(Number.isInteger(patch.interval_s) && patch.interval_s >= 1 && patch.interval_s <= 86_400)) {
    throw new Invalid("interval_s", "must be a whole number of seconds from 1 to 86400");
  }
  const interval = patch.interval_s ?? a.interval_s;
  // A longer interval moves the offline deadline out; a shorter one takes effect from the next heartbeat.
  const deadline = a.status === "online" && a.last_seen_at !== null ? Math.max(a.next_deadline ?? 0, offlineDeadline(a.last_seen_at, interval)) : a.next_deadline;
  db.query(
    "UPDATE agents SET name = $name, labels = $labels, interval_s = $interval, next_deadline = $deadline, updated_at = $now WHERE tenant_id = $tenant AND id = $id",
  ).run({ name, labels: JSON.stringify(labels), interval, deadline, now, tenant: tenantId, id: a.id });
  eventHub(db).agent(tenantId, a.id);
  return getAgent(db, tenantId, a.id);
}

/** Forgets an agent and revokes its token; returns what it was. Its host keeps its entries until `agent uninstall`. */
export function deleteAgent(db: Db, tenantId: string, ref: string): Agent {
  const a = findAgent(db, tenantId, ref);
  db.query("DELETE FROM agents WHERE tenant_id = ? AND id = ?").run(tenantId, a.id);
  eventHub(db).agentGone(tenantId, a.id);
  return a;
}
