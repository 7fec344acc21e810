// The timeline: the runs of many jobs over one window, a row per job, for drawing on one time
// axis (the console's /timeline), so that overlaps, gaps and slow nights show at a glance. It is
// bounded: at most `maxJobs` jobs a page (by namespace and name, the jobs list's order, with a
// cursor for the next ones) and at most `maxRuns` runs a job (the newest; the row says from when it
// is complete). Each job's runs come from its own history chain (jobRunsInWindow in runs.ts).
// The default bounds keep a page of 20 x 30 bars, with the console's assets, under 150 KB.
import type { Db } from "../db";
import { Invalid } from "../errors";
import { listJobs, type Job } from "../jobs/jobs";
import { jobRunsInWindow, runSpan, type Run } from "./runs";

export const TIMELINE_JOBS = 15;
export const TIMELINE_RUNS = 30;
/** The longest window: a month, the longest a run may last. */
export const TIMELINE_MAX_WINDOW_MS = 31 * 86_400_000;

export interface TimelineQuery {
  from: number;
  to: number;
  namespace?: string;
  /** Label selectors as the jobs list takes them: "key=value" or "key". */
  labels?: string[];
  /** The jobs list's cursor: the next page of jobs. */
  cursor?: string;
  maxJobs?: number;
  maxRuns?: number;
}

/** A run as a bar: when it began and ended (a run still running ends now). */
export interface TimelineBar {
  run: Run;
  start: number;
  end: number;
}

export interface TimelineRow {
  job: Job;
  /** Oldest first, as they are drawn. */
  bars: TimelineBar[];
  /** The row holds every run of the window from this time on; earlier ones were left out. Null when it holds all. */
  complete_from: number | null;
  /** Why: more than maxRuns in the window, or a history too long after the window to read back to it. */
  cut_by: "runs" | "history" | null;
}

export interface Timeline {
  from: number;
  to: number;
  rows: TimelineRow[];
  /** More jobs match: the next page of rows starts here. */
  next_cursor: string | null;
  max_jobs: number;
  max_runs: number;
}

/** The tenant's jobs (filtered by namespace and labels) with their runs in [from, to). */
export function runTimeline(db: Db, tenantId: string, q: TimelineQuery, now: number): Timeline {
  const maxJobs = q.maxJobs ?? TIMELINE_JOBS;
  const maxRuns = q.maxRuns ?? TIMELINE_RUNS;
  if (!Number.isFinite(q.from) || !Number.isFinite(q.to) || q.to <= q.from) throw new Invalid("window", "must end after it starts");
  if (q.to - q.from > TIMELINE_MAX_WINDOW_MS) throw new Invalid("window", "must be at most 31 days");
  if (!Number.isInteger(maxJobs) || maxJobs < 1 || maxJobs > 200) throw new Invalid("max_jobs", "must be between 1 and 200");
  if (!Number.isInteger(maxRuns) || maxRuns < 1 || maxRuns > 1000) throw new Invalid("max_runs", "must be between 1 and 1000");
  const { jobs, next_cursor } = listJobs(db, tenantId, { namespace: q.namespace, labels: q.labels, cursor: q.cursor, limit: maxJobs });
  const rows = jobs.map((job): TimelineRow => {
    const { runs, complete_from, cut_by } = jobRunsInWindow(db, tenantId, job.id, q.from, q.to, now, maxRuns);
    const bars = runs.map((run) => ({ run, ...runSpan(run, now) })).sort((a, b) => a.start - b.start || a.run.id - b.run.id);
    return { job, bars, complete_from, cut_by };
  });
  return { from: q.from, to: q.to, rows, next_cursor, max_jobs: maxJobs, max_runs: maxRuns };
}
