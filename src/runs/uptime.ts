// Downtime and uptime per month, from a job's flips: between two flips the job was in the status
// the first one moved it to. Down time is time in "down" or "failed"; time paused or "new" (never
// heard from) is not monitored and counts for neither side. Pausing, resuming and edits write no flip: where the next flip does
// not start from the status the last one left (or the job's status changed since its last flip),
// something unrecorded happened in between, and that stretch is counted as not known rather than
// guessed. Months are calendar months in the job's time zone.
import type { Db } from "../db";
import type { Job, JobStatus } from "../jobs/types";
import { offsetAt, wallOf } from "../jobs/zone";

const DOWN = new Set(["down", "failed"]);
/** The statuses of a job that is being monitored: "new" (never heard from) and "paused" are not. */
const MONITORED = new Set(["up", "running", "late", "down", "failed"]);

/** One calendar month of a job's monitoring. Times in epoch ms. */
export interface MonthUptime {
  /** "2026-11", in the job's zone. */
  month: string;
  /** The stretch of the month looked at: from its start (or the job's creation, or the oldest flip kept) to its end (or now). */
  from: number;
  to: number;
  /** Time in down or failed. */
  downtime_ms: number;
  /** Time whose status is known and monitored (not paused, not new): what the uptime is a share of. */
  monitored_ms: number;
  /** 1 - downtime / monitored; null when nothing of the month is known. */
  uptime: number | null;
  /** How many times the job went down or failed in the month. */
  outages: number;
}

interface FlipRow {
  from_status: string;
  to_status: string;
  created_at: number;
}

/** A stretch of time in one status; null: not known. */
interface Stretch {
  from: number;
  to: number;
  status: string | null;
}

/** The instant the month starting on the 1st of (year, month 1-12) begins in `tz`. */
function monthStart(year: number, month: number, tz: string): number {
  const wall = Date.UTC(year, month - 1, 1);
  const guess = wall - offsetAt(wall, tz);
  return wall - offsetAt(guess, tz);
}

/** The last `count` calendar months up to the one `now` falls in, newest first: [label, start, end]. */
function monthsUpTo(now: number, tz: string, count: number): [string, number, number][] {
  const wall = new Date(wallOf(now, tz));
  let y = wall.getUTCFullYear();
  let m = wall.getUTCMonth() + 1;
  const out: [string, number, number][] = [];
  let end = m === 12 ? monthStart(y + 1, 1, tz) : monthStart(y, m + 1, tz);
  for (let i = 0; i < count; i++) {
    const start = monthStart(y, m, tz);
    out.push([`${y}-${String(m).padStart(2, "0")}`, start, end]);
    end = start;
    if (--m === 0) {
      m = 12;
      y--;
    }
  }
  return out;
}

/**
 * The job's downtime and uptime in each of the last `months` calendar months (newest first; none
 * before the job existed). `keptSince` is where the tenant's retention has cut the flips
 * (now - retention_days): before it nothing is known, after it every flip is there.
 */
export function uptimeByMonth(
  db: Db,
  tenantId: string,
  job: Pick<Job, "id" | "created_at" | "status" | "status_since" | "timezone">,
  now: number,
  opts: { months?: number; keptSince?: number } = {},
): MonthUptime[] {
  const months = monthsUpTo(now, job.timezone, opts.months ?? 3).filter(([, , end]) => end > job.created_at);
  if (!months.length) return [];
  const since = Math.max(months.at(-1)![1], job.created_at, opts.keptSince ?? -Infinity);
  const before = db
    .query<FlipRow, [string, string, number]>(
      "SELECT from_status, to_status, created_at FROM flips WHERE tenant_id = ? AND job_id = ? AND created_at < ? ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .get(tenantId, job.id, since);
  const flips = db
    .query<FlipRow, [string, string, number, number]>(
      "SELECT from_status, to_status, created_at FROM flips WHERE tenant_id = ? AND job_id = ? AND created_at >= ? AND created_at <= ? ORDER BY created_at, id",
    )
    .all(tenantId, job.id, since, now);
  const stretches = stretchesOf(since, now, before, flips, job.status, job.status_since);
  return months.map(([month, start, end]) => {
    const from = Math.max(start, since);
    const to = Math.min(end, now);
    let downtime = 0;
    let monitored = 0;
    for (const s of stretches) {
      const a = Math.max(s.from, from);
      const b = Math.min(s.to, to);
      if (b <= a || s.status === null || !MONITORED.has(s.status)) continue;
      monitored += b - a;
      if (DOWN.has(s.status)) downtime += b - a;
    }
    const outages = flips.filter((f) => f.created_at >= from && f.created_at < to && DOWN.has(f.to_status) && !DOWN.has(f.from_status)).length;
    return { month, from, to: Math.max(from, to), downtime_ms: downtime, monitored_ms: monitored, uptime: monitored > 0 ? 1 - downtime / monitored : null, outages };
  });
}

/** The job's statuses from `since` to `now` as stretches, the unrecorded ones as not known. */
function stretchesOf(since: number, now: number, before: FlipRow | null, flips: FlipRow[], status: JobStatus, statusSince: number | null): Stretch[] {
  const out: Stretch[] = [];
  let t = since;
  // The status at `since`: what the flip before left, or what the first flip after starts from.
  let current: string | null = before ? before.to_status : (flips[0]?.from_status ?? null);
  for (const f of flips) {
    out.push({ from: t, to: f.created_at, status: current === f.from_status ? current : null });
    t = f.created_at;
    current = f.to_status;
  }
  // When the status the job has now began. Later than the last flip: a change no flip records
  // (a pause, a resume), so from the last flip to it is not known.
  const changed = Math.min(statusSince ?? t, now);
  if (changed > t) {
    out.push({ from: t, to: changed, status: null });
    out.push({ from: changed, to: now, status });
  } else {
    out.push({ from: t, to: now, status: current === null || current === status ? status : null });
  }
  return out.filter((s) => s.to > s.from);
}
