// The jobs a dashboard shows first: those in the given statuses (failing or down, late, running),
// the newest change first, so that what just broke is on top and "since when" reads down the list.
import type { Db } from "../db";
import { Invalid } from "../errors";
import { currentJob } from "./jobs";
import { JOB_STATUSES, type Job, type JobRow, type JobStatus } from "./types";

/** The tenant's jobs in any of `statuses`, the most recent status change first, at most `limit`. */
export function listJobsInStatus(db: Db, tenantId: string, statuses: readonly JobStatus[], limit = 20): Job[] {
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  for (const s of statuses) if (!(JOB_STATUSES as readonly string[]).includes(s)) throw new Invalid("status", `must be one of ${JOB_STATUSES.join(", ")}`);
  if (!statuses.length) return [];
  // A status change is written to the job row at once (JobStates), so the rows' status and since are current.
  return db
    .query<JobRow, [string, string, number]>(
      "SELECT * FROM jobs WHERE tenant_id = ? AND status IN (SELECT value FROM json_each(?)) ORDER BY status_since DESC, namespace, name LIMIT ?",
    )
    .all(tenantId, JSON.stringify(statuses), limit)
    .map((r) => currentJob(db, r));
}
