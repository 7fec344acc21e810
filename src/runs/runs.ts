// Runs are check-ins: a finish (success or failure, paired with its start when there was one),
// or a start still running or timed out. A job's history is the chain of its check-ins
// (checkins.prev_id, linked by the engine), read by rowid; the tenant's by its index.
import type { Db } from "../db";
import { BadRequest, Invalid, NotFound } from "../errors";

export const RUN_STATUSES = ["running", "success", "failed", "timeout"] as const;
const VISIBLE = new Set<string>(RUN_STATUSES);

interface RunRow {
  id: number;
  tenant_id: string;
  job_id: string;
  kind: string;
  status: string;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  body: string | null;
  truncated: number;
  source: string | null;
  reason: string | null;
  prev_id: number | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function runJson(r: RunRow, job: { namespace: string; name: string }, withOutput: boolean) {
  const isStart = r.kind === "start";
  return {
    id: r.id,
    kind: r.kind,
    job: `${job.namespace}/${job.name}`,
    job_id: r.job_id,
    run_id: r.rid,
    status: r.status,
    started_at: iso(isStart ? r.received_at : r.started_at),
    finished_at: isStart ? (r.status === "timeout" && r.duration_ms !== null ? iso(r.received_at + r.duration_ms) : null) : iso(r.received_at),
    duration_ms: r.duration_ms,
    exit_code: r.exit_code,
    reason: r.reason,
    source: r.source,
    output_truncated: r.truncated === 1,
    ...(withOutput ? { output: r.body } : {}),
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
  /** Include each run's output (lists leave it out by default). */
  output?: boolean;
  /** Every check-in of a job: also log lines and the starts of finished runs. */
  all?: boolean;
}

function readTime(field: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Invalid(field, "expected an ISO 8601 time");
  return ms;
}

function readCursor(cursor: string | undefined): number | null {
  if (cursor === undefined) return null;
  if (!/^\d{1,15}$/.test(cursor)) throw new BadRequest("cursor: not a cursor this server gave out");
  return Number(cursor);
}

/** How many check-ins one request may walk before it hands back a cursor. */
const MAX_SCAN = 5_000;

/** Runs, newest first, a page at a time. */
export function listRuns(db: Db, tenantId: string, f: RunFilter): { runs: RunJson[]; next_cursor: string | null } {
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  if (f.status !== undefined && !VISIBLE.has(f.status)) throw new Invalid("status", `must be one of ${RUN_STATUSES.join(", ")}`);
  const since = readTime("since", f.since);
  const until = readTime("until", f.until);
  const cursor = readCursor(f.cursor);
  const wanted = (r: RunRow) =>
    (f.all || VISIBLE.has(r.status)) &&
    (!f.status || r.status === f.status) &&
    (since === null || r.received_at >= since) &&
    (until === null || r.received_at < until);
  const names = new Map<string, { namespace: string; name: string }>();
  const jobOf = (id: string) => {
    let n = names.get(id);
    if (!n) {
      n = db.query<{ namespace: string; name: string }, [string, string]>("SELECT namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, id) ?? { namespace: "?", name: "?" };
      names.set(id, n);
    }
    return n;
  };
  const out: RunJson[] = [];
  let next: number | null = null;

  if (f.jobId) {
    // Walk the job's chain from its head (or the cursor). The chain follows arrival, and a
    // result delivered late may be older than the ones after it: filter, never stop early.
    const head = db.query<{ last_checkin_id: number | null }, [string, string]>("SELECT last_checkin_id FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, f.jobId);
    let id = cursor ?? head?.last_checkin_id ?? null;
    const row = db.query<RunRow, [number, string, string]>("SELECT * FROM checkins WHERE id = ? AND tenant_id = ? AND job_id = ?");
    for (let scanned = 0; id !== null; scanned++) {
      if (scanned === MAX_SCAN) {
        next = id;
        break;
      }
      const r = row.get(id, tenantId, f.jobId);
      if (!r) break;
      if (wanted(r)) {
        // One more than the page: it is where the next page starts.
        if (out.length === limit) {
          next = r.id;
          break;
        }
        out.push(runJson(r, jobOf(r.job_id), !!f.output));
      }
      id = r.prev_id;
    }
  } else {
    const page = db.query<RunRow, [string, number, number]>(
      "SELECT * FROM checkins WHERE tenant_id = ? AND id < ? AND status IN ('running', 'success', 'failed', 'timeout') ORDER BY id DESC LIMIT ?",
    );
    let before = cursor === null ? Number.MAX_SAFE_INTEGER : cursor + 1;
    scan: for (let scanned = 0; scanned < MAX_SCAN; ) {
      const rows = page.all(tenantId, before, 200);
      if (rows.length === 0) break;
      for (const r of rows) {
        scanned++;
        before = r.id;
        if (!wanted(r)) continue;
        if (out.length === limit) {
          next = r.id;
          break scan;
        }
        out.push(runJson(r, jobOf(r.job_id), !!f.output));
      }
      // Out of budget: go on from below the last row looked at.
      if (scanned >= MAX_SCAN) next = before - 1;
    }
  }
  return { runs: out, next_cursor: next !== null && next > 0 ? String(next) : null };
}

export function getRun(db: Db, tenantId: string, id: string): RunJson {
  const r = /^\d{1,15}$/.test(id) ? db.query<RunRow, [number, string]>("SELECT * FROM checkins WHERE id = ? AND tenant_id = ?").get(Number(id), tenantId) : null;
  if (!r || !VISIBLE.has(r.status)) throw new NotFound(`run ${id}`);
  const job = db.query<{ namespace: string; name: string }, [string, string]>("SELECT namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, r.job_id);
  if (!job) throw new NotFound(`run ${id}`);
  return runJson(r, job, true);
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

export interface PruneResult {
  checkins: number;
  flips: number;
  notifications: number;
}

/**
 * Retention, per tenant: check-ins older than retention_days, each job's runs beyond its newest
 * retention_runs, and flips and finished notifications older than retention_days. Runs in
 * bounded steps (`budgetMs`) so a large backlog never holds the server up for long.
 */
export function pruneHistory(db: Db, now: number, budgetMs = 200): PruneResult {
  const out: PruneResult = { checkins: 0, flips: 0, notifications: 0 };
  const started = performance.now();
  const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
  const del = db.query("DELETE FROM checkins WHERE id = ?");
  const tenants = db.query<{ id: string; retention_days: number; retention_runs: number }, []>("SELECT id, retention_days, retention_runs FROM tenants").all();
  for (const t of tenants) {
    const cutoff = now - t.retention_days * 86_400_000;
    db.transaction(() => {
      out.flips += db.query("DELETE FROM flips WHERE tenant_id = ? AND created_at < ?").run(t.id, cutoff).changes;
      out.notifications += db.query("DELETE FROM notifications WHERE tenant_id = ? AND created_at < ? AND status != 'pending'").run(t.id, cutoff).changes;
      // Oldest first; ids follow arrival, so stop at the first applied row inside the window.
      const oldest = db.query<{ id: number; received_at: number; status: string }, [string, number]>(
        "SELECT id, received_at, status FROM checkins WHERE tenant_id = ? AND id <= ? ORDER BY id LIMIT 1000",
      );
      for (let more = true; more && performance.now() - started < budgetMs; ) {
        const rows = oldest.all(t.id, applied);
        more = false;
        for (const r of rows) {
          if (r.received_at >= cutoff) break;
          if (r.status !== "running") {
            del.run(r.id);
            out.checkins++;
          }
          more = r === rows.at(-1);
        }
      }
    })();
    // Per job: keep the newest retention_runs runs of each chain; cut the rest.
    const jobs = db
      .query<{ id: string; last_checkin_id: number }, [string, number]>(
        "SELECT id, last_checkin_id FROM jobs WHERE tenant_id = ? AND last_checkin_id IS NOT NULL AND checkins_total > ?",
      )
      .all(t.id, t.retention_runs);
    const link = db.query<{ prev_id: number | null; status: string }, [number]>("SELECT prev_id, status FROM checkins WHERE id = ?");
    for (const j of jobs) {
      if (performance.now() - started > budgetMs) break;
      db.transaction(() => {
        let id: number | null = j.last_checkin_id;
        let kept = 0;
        let last: number | null = null;
        while (id !== null && kept < t.retention_runs) {
          const r = link.get(id);
          if (!r) return;
          if (VISIBLE.has(r.status)) kept++;
          last = id;
          id = r.prev_id;
        }
        if (last === null || id === null) return;
        db.query("UPDATE checkins SET prev_id = NULL WHERE id = ?").run(last);
        while (id !== null) {
          const r = link.get(id);
          if (!r) break;
          if (r.status !== "running") {
            del.run(id);
            out.checkins++;
          }
          id = r.prev_id;
        }
      })();
    }
  }
  return out;
}
