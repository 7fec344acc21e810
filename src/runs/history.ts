// A job's log as its page shows it: its runs newest first, with its status changes (flips) between
// them where they happened, a page at a time. The runs come from the run history (listRuns); each
// page takes the flips from the time of its oldest run up to where the page before it stopped, so
// every flip shows once, on the page of the run that caused it (above that run: it came of it).
import type { Db } from "../db";
import { BadRequest } from "../errors";
import { listRuns, type Flip, type Run } from "./runs";

export type LogEntry = { kind: "run"; run: Run } | { kind: "flip"; flip: Flip };

export interface JobLogPage {
  entries: LogEntry[];
  next_cursor: string | null;
}

/** Where a run sits in time: its end, or its start while it runs. */
export const runTime = (r: Run) => r.finished_at ?? r.started_at ?? 0;

/** Flips a page shows at most (a page of runs has a few between each two). */
const MAX_FLIPS = 500;

function readCursor(cursor: string | undefined): { runs?: string; before: number } {
  if (cursor === undefined) return { before: Number.MAX_SAFE_INTEGER };
  const m = /^(\d{1,15})\.(\d{1,16})$/.exec(cursor);
  if (!m) throw new BadRequest("cursor: not a cursor this server gave out");
  return { runs: m[1], before: Number(m[2]) };
}

/**
 * The job's runs and flips, newest first, `limit` runs a page (and the flips among them). `quiet`
 * leaves out the flips between up and running, which every run with a start signal makes twice.
 */
export function jobLog(db: Db, tenantId: string, jobId: string, f: { cursor?: string; limit?: number; quiet?: boolean } = {}): JobLogPage {
  const { runs: runCursor, before } = readCursor(f.cursor);
  const page = listRuns(db, tenantId, { jobId, limit: f.limit ?? 50, cursor: runCursor });
  const oldest = page.runs.at(-1);
  // The last page takes every older flip; another one stops at its oldest run.
  const from = page.next_cursor && oldest ? Math.min(runTime(oldest), before) : Number.MIN_SAFE_INTEGER;
  const flips = db
    .query<{ id: number; from_status: string; to_status: string; reason: string; created_at: number }, [string, string, number, number, number]>(
      `SELECT id, from_status, to_status, reason, created_at FROM flips
       WHERE tenant_id = ? AND job_id = ? AND created_at >= ? AND created_at < ?
       ${f.quiet ? "AND NOT (from_status IN ('up', 'running') AND to_status IN ('up', 'running'))" : ""}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .all(tenantId, jobId, from, before, MAX_FLIPS)
    .map((r): Flip => ({ id: r.id, from: r.from_status, to: r.to_status, reason: r.reason, created_at: r.created_at }));
  const entries: LogEntry[] = [];
  let i = 0;
  for (const run of page.runs) {
    // The flips at or after this run's time come first: a flip is dated by the check-in that caused it.
    while (i < flips.length && flips[i]!.created_at >= runTime(run)) entries.push({ kind: "flip", flip: flips[i++]! });
    entries.push({ kind: "run", run });
  }
  while (i < flips.length) entries.push({ kind: "flip", flip: flips[i++]! });
  return { entries, next_cursor: page.next_cursor ? `${page.next_cursor}.${from}` : null };
}
