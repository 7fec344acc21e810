// Jobs as the API answers them (and takes them back: see manifest.ts): the one place that
// knows their field names, writes their times (ISO 8601, or in the job's zone) and builds
// their URLs. The jobs service gives the domain values (src/jobs/jobs.ts).
import { isoTime } from "../time";
import { describeSchedule, formatInZone, parseSchedule } from "./schedule";
import { nextRunTimes, pausedOverride, type Job } from "./jobs";

/** Where the job's check-ins are sent (see src/checkins/ping.ts). */
export function pingUrl(baseUrl: string, job: Pick<Job, "ping_token">): string {
  return `${baseUrl}/ping/${job.ping_token}`;
}

/** The job's status badge, under the tenant's badge key (see src/metrics/badge.ts). */
export function badgeUrl(baseUrl: string, badgeKey: string, job: Pick<Job, "namespace" | "name">): string {
  return `${baseUrl}/badge/${badgeKey}/${job.namespace}/${job.name}.svg`;
}

/** The job as the API returns it; `badgeKey` is the tenant's (no badge_url without one). */
export function jobJson(job: Job, baseUrl: string, now: number, badgeKey?: string | null) {
  return {
    id: job.id,
    namespace: job.namespace,
    name: job.name,
    status: job.status,
    labels: job.labels,
    annotations: job.annotations,
    schedule: job.schedule,
    schedule_description: describeSchedule(parseSchedule("schedule", job.schedule, job.timezone), job.timezone),
    timezone: job.timezone,
    next_runs: nextRunTimes(job, now).map((ms) => formatInZone(ms, job.timezone)),
    command: job.command,
    args: job.args,
    working_dir: job.working_dir,
    env: job.env,
    grace: job.grace_s,
    timeout: job.timeout_s,
    enabled: job.enabled,
    paused: job.paused,
    agent: job.agent_selector ? { selector: job.agent_selector } : null,
    user: job.user,
    alerts: {
      after: job.alert_after,
      min_runtime: job.min_runtime_s,
      start_grace: job.start_grace_s,
      renotify: job.renotify_s,
      channels: job.channels,
    },
    ping_url: pingUrl(baseUrl, job),
    ...(badgeKey ? { badge_url: badgeUrl(baseUrl, badgeKey, job) } : {}),
    status_since: isoTime(job.status_since),
    expected_at: job.expected_at === null ? null : formatInZone(job.expected_at, job.timezone),
    last_ping_at: isoTime(job.last_ping_at),
    last_success_at: isoTime(job.last_success_at),
    last_failure_at: isoTime(job.last_failure_at),
    last_duration_ms: job.last_duration_ms,
    last_exit_code: job.last_exit_code,
    consecutive_failures: job.consecutive_failures,
    checkins_total: job.checkins_total,
    source: job.source,
    paused_override: pausedOverride(job),
    created_at: isoTime(job.created_at),
    updated_at: isoTime(job.updated_at),
  };
}

export type JobJson = ReturnType<typeof jobJson>;

/** What a job's status and check-ins change: the fields of jobJson that a page updates live. */
export type JobStatusFields = Pick<
  Job,
  | "id" | "namespace" | "name" | "status" | "status_since" | "paused" | "timezone" | "expected_at" | "last_ping_at"
  | "last_success_at" | "last_failure_at" | "last_duration_ms" | "last_exit_code" | "consecutive_failures" | "checkins_total"
>;

/**
 * A job's live state, with the names and formats of jobJson (the stream's `job` event): no
 * schedule to evaluate, no row to read, so it costs little however often a job changes.
 */
export function jobStatusJson(job: JobStatusFields) {
  return {
    id: job.id,
    namespace: job.namespace,
    name: job.name,
    status: job.status,
    status_since: isoTime(job.status_since),
    paused: job.paused,
    expected_at: job.expected_at === null ? null : formatInZone(job.expected_at, job.timezone),
    last_ping_at: isoTime(job.last_ping_at),
    last_success_at: isoTime(job.last_success_at),
    last_failure_at: isoTime(job.last_failure_at),
    last_duration_ms: job.last_duration_ms,
    last_exit_code: job.last_exit_code,
    consecutive_failures: job.consecutive_failures,
    checkins_total: job.checkins_total,
  };
}

export type JobStatusJson = ReturnType<typeof jobStatusJson>;

