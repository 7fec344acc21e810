// A job as stored (JobRow) and as the services hand it out (Job), and its statuses. Plain data,
// importing no service: the monitor (src/monitor/state.ts, states.ts) reads them without
// depending on the job service, which depends on it.
import type { JobSpec } from "./manifest";

export const JOB_STATUSES = ["new", "up", "running", "late", "down", "failed", "paused"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** What the monitoring engine keeps about a job. */
export interface JobMonitoring {
  consecutive_failures: number;
  checkins_total: number;
  last_ping_at: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_duration_ms: number | null;
  last_exit_code: number | null;
  status_since: number | null;
  expected_at: number | null;
  next_deadline: number | null;
  last_notified_at: number | null;
  /** The newest applied check-in: the head of the job's history chain. */
  last_checkin_id: number | null;
  open_runs: number;
  /** A trigger went out and no resolve since. */
  alerting: boolean;
}

/** A row of the jobs table: the spec's columns (JSON text, 0/1 flags) and the monitoring state. */
export interface JobRow extends Omit<JobMonitoring, "alerting"> {
  id: string;
  tenant_id: string;
  namespace: string;
  name: string;
  labels: string;
  annotations: string;
  schedule: string;
  timezone: string;
  command: string | null;
  args: string;
  working_dir: string | null;
  env: string;
  grace_s: number;
  timeout_s: number | null;
  enabled: number;
  paused: number;
  status: JobStatus;
  agent_selector: string | null;
  run_as: string | null;
  ping_token: string;
  created_at: number;
  updated_at: number;
  alert_after: number;
  min_runtime_s: number | null;
  start_grace_s: number | null;
  renotify_s: number | null;
  channels: string | null;
  alerting: number;
  source_repository: string | null;
  source_path: string | null;
  source_commit: string | null;
  source_paused: number | null;
}

export interface Job extends JobSpec, JobMonitoring {
  id: string;
  tenant_id: string;
  status: JobStatus;
  ping_token: string;
  created_at: number;
  updated_at: number;
  /** Where Git defines it (GitOps); null for jobs made through the API, console or CLI. */
  source: { repository: string; path: string | null; commit: string | null } | null;
  /** Git's spec.paused as the last sync read it; null for jobs not from Git. See pausedOverride. */
  source_paused: boolean | null;
}
