// Runs and flips: reading the history the engine writes, and pruning it.
import type { Db } from "../db";
import { BadRequest, Invalid, NotFound } from "../errors";

export const RUN_STATUSES = ["running", "success", "failed", "timeout"] as const;

interface RunRow {
  id: string;
  job_id: string;
  namespace: string;
  name: string;
  rid: string | null;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  output?: string | null;
  output_truncated: number;
  source: string | null;
  reason: string | null;
  created_at: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function runJson(r: RunRow, withOutput: boolean) {
  return {
    id: r.id,
    job: `${r.namespace}/${r.name}`,
    job_id: r.job_id,
    run_id: r.rid,
    status: r.status,
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    duration_ms: r.duration_ms,
    exit_code: r.exit_code,
    reason: r.reason,
    source: r.source,
    output_truncated: r.output_truncated === 1,
    ...(withOutput ? { output: r.output ?? null } : {}),
    created_at: iso(r.created_at),
  };
}

export type RunJson = ReturnType<typeof runJson>;

export interface RunFilter {
  jobId?: string;
  status?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  /** Include each run's output (the list leaves it out by default). */
  output?: boolean;
}

function readTime(field: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Invalid(field, "expected an ISO 8601 time");
  return ms;
}

/** Runs of the tenant, newest first, a page at a time (keyset on the time-ordered id). */
export function listRuns(db: Db, tenantId: string, f: RunFilter): { runs: RunJson[]; next_cursor: string | null } {
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  if (f.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(f.status)) {
    throw new Invalid("status", `must be one of ${RUN_STATUSES.join(", ")}`);
  }
  const where = ["r.tenant_id = $tenant"];
  const params: Record<string, string | number> = { tenant: tenantId, limit: limit + 1 };
  if (f.jobId) {
    where.push("r.job_id = $job");
    params.job = f.jobId;
  }
  if (f.status) {
    where.push("r.status = $status");
    params.status = f.status;
  }
  const since = readTime("since", f.since);
  const until = readTime("until", f.until);
  if (since !== null) {
    where.push("r.created_at >= $since");
    params.since = since;
  }
  if (until !== null) {
    where.push("r.created_at < $until");
    params.until = until;
  }
  if (f.cursor) {
    if (!/^[0-9a-f-]{36}$/.test(f.cursor)) throw new BadRequest("cursor: not a cursor this server gave out");
    where.push("r.id < $cursor");
    params.cursor = f.cursor;
  }
  const cols = `r.id, r.job_id, j.namespace, j.name, r.rid, r.status, r.started_at, r.finished_at, r.duration_ms, r.exit_code,
    r.output_truncated, r.source, r.reason, r.created_at${f.output ? ", r.output" : ""}`;
  const rows = db
    .query<RunRow, Record<string, string | number>>(
      `SELECT ${cols} FROM runs r JOIN jobs j ON j.id = r.job_id WHERE ${where.join(" AND ")} ORDER BY r.id DESC LIMIT $limit`,
    )
    .all(params);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { runs: page.map((r) => runJson(r, !!f.output)), next_cursor: more ? page.at(-1)!.id : null };
}

export function getRun(db: Db, tenantId: string, id: string): RunJson {
  const r = db
    .query<RunRow, [string, string]>(
      `SELECT r.*, j.namespace, j.name FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.tenant_id = ? AND r.id = ?`,
    )
    .get(tenantId, id);
  if (!r) throw new NotFound(`run ${id}`);
  return runJson(r, true);
}

export function listFlips(db: Db, tenantId: string, jobId: string, limit = 100) {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Invalid("limit", "must be between 1 and 1000");
  return db
    .query<{ id: number; from_status: string; to_status: string; reason: string; created_at: number }, [string, string, number]>(
      "SELECT id, from_status, to_status, reason, created_at FROM flips WHERE tenant_id = ? AND job_id = ? ORDER BY id DESC LIMIT ?",
    )
    .all(tenantId, jobId, limit)
    .map((f) => ({ id: f.id, from: f.from_status, to: f.to_status, reason: f.reason, created_at: iso(f.created_at) }));
}

/**
 * Retention: runs older than the tenant's retention_days, runs beyond retention_runs per job,
 * and flips and delivered notifications as old; check-ins the engine applied more than a day ago.
 * Returns how many rows went.
 */
export function pruneHistory(db: Db, now: number): { runs: number; flips: number; notifications: number; checkins: number } {
  const out = { runs: 0, flips: 0, notifications: 0, checkins: 0 };
  db.transaction(() => {
    for (const t of db.query<{ id: string; retention_days: number; retention_runs: number }, []>("SELECT id, retention_days, retention_runs FROM tenants").all()) {
      const cutoff = now - t.retention_days * 86_400_000;
      out.runs += db.query("DELETE FROM runs WHERE tenant_id = ? AND created_at < ? AND status != 'running'").run(t.id, cutoff).changes;
      out.flips += db.query("DELETE FROM flips WHERE tenant_id = ? AND created_at < ?").run(t.id, cutoff).changes;
      out.notifications += db.query("DELETE FROM notifications WHERE tenant_id = ? AND created_at < ? AND status != 'pending'").run(t.id, cutoff).changes;
      // Per job: keep the newest retention_runs.
      out.runs += db
        .query(
          `DELETE FROM runs WHERE tenant_id = ?1 AND status != 'running' AND id IN (
             SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY id DESC) AS n FROM runs WHERE tenant_id = ?1)
             WHERE n > ?2)`,
        )
        .run(t.id, t.retention_runs).changes;
    }
    const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
    out.checkins = db.query("DELETE FROM checkins WHERE id <= ? AND received_at < ?").run(applied, now - 86_400_000).changes;
  })();
  return out;
}
