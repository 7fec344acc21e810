// GitOps alerts. A sync whose state leaves ok (degraded: applied with file errors; failing: nothing
// could be applied) alerts the tenant's channels once, with its first file errors and a link to the
// console's GitOps page; the first ok sync after it alerts once more, as the recovery. In between
// nothing does: degraded -> failing, failing -> degraded and every further bad sync stay silent
// (the status, the history and the console say it), so a broken commit synced every minute pages
// once. The open alert is gitops_status.alerting. Delivered like any job alert: the outbox, its
// retries and every channel type (src/alerts/fanout.ts).
import type { Db } from "../db";
import { AlertFanOut } from "../alerts/fanout";
import { GITOPS_ERRORS_MAX } from "../alerts/message";
import type { FileError } from "./plan";

/** The states a sync finishes in. */
export type FinishedState = "ok" | "degraded" | "failing";

/** The alert a finished sync calls for, given whether one is open. */
export function gitopsAlertEvent(alerting: boolean, state: FinishedState): "trigger" | "resolve" | null {
  if (state === "ok") return alerting ? "resolve" : null;
  return alerting ? null : "trigger";
}

export interface FinishedSync {
  tenantId: string;
  /** Its gitops_syncs row: one alert per sync and channel, whatever retries the outbox makes. */
  syncId: number;
  state: FinishedState;
  /** The state of the sync before it (never for the first). */
  previousState: string;
  repository: string;
  branch: string;
  commit: string | null;
  lastGoodCommit: string | null;
  /** What went wrong as a whole (a failed fetch, the prune guard); null otherwise. */
  message: string | null;
  errors: FileError[];
  at: number;
}

const ERROR_MESSAGE_MAX = 300;
const oneLine = (s: string, max: number) => {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : line.slice(0, max - 1) + "…";
};
const short = (commit: string | null) => (commit ? commit.slice(0, 12) : "(none)");

/** The alert's reason line: what the sync did, in a few words. */
export function gitopsReason(s: Pick<FinishedSync, "state" | "commit" | "message" | "errors">): string {
  if (s.state === "ok") return `commit ${short(s.commit)} synced`;
  if (s.state === "degraded") {
    const n = s.errors.length;
    return `${n} file error${n === 1 ? "" : "s"} in commit ${short(s.commit)}; the rest was applied`;
  }
  return oneLine(s.message ?? "nothing could be applied", ERROR_MESSAGE_MAX);
}

/**
 * Queues the alert a finished sync calls for, in the caller's transaction, and marks the alert
 * open or closed. Returns how many notifications were queued (one per channel of the tenant).
 */
export function queueGitopsAlert(db: Db, baseUrl: string, s: FinishedSync): number {
  const alerting = db.query<{ alerting: number }, [string]>("SELECT alerting FROM gitops_status WHERE tenant_id = ?").get(s.tenantId)?.alerting === 1;
  const event = gitopsAlertEvent(alerting, s.state);
  if (!event) return 0;
  db.query("UPDATE gitops_status SET alerting = ?1 WHERE tenant_id = ?2").run(event === "trigger" ? 1 : 0, s.tenantId);
  return new AlertFanOut(db, baseUrl).queue({
    tenantId: s.tenantId,
    event,
    job: null,
    gitops: {
      repository: s.repository,
      branch: s.branch,
      commit: s.commit,
      last_good_commit: s.lastGoodCommit,
      errors: s.errors.slice(0, GITOPS_ERRORS_MAX).map((e) => ({ path: e.path, line: e.line, column: e.column, message: oneLine(e.message, ERROR_MESSAGE_MAX) })),
      errors_total: s.errors.length,
    },
    status: s.state,
    previousStatus: s.previousState,
    reason: gitopsReason(s),
    since: s.at,
    // One incident per tenant's repository: a receiver's resolve closes the trigger.
    incidentKey: `crontopus-gitops-${s.tenantId}`,
    flipId: null,
    outboxKey: (channelId) => `gitops-sync:${s.syncId}:${channelId}`,
    at: s.at,
  });
}
