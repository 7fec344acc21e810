// Runs and flips as the API answers them: the one place that knows their field names and
// writes their times as ISO 8601 (the services give epoch milliseconds).
import { isoTime } from "../time";
import type { Flip, Run, RunPage } from "./runs";

export function runJson(run: Run) {
  return {
    id: run.id,
    kind: run.kind,
    job: `${run.job.namespace}/${run.job.name}`,
    job_id: run.job.id,
    run_id: run.run_id,
    status: run.status,
    started_at: isoTime(run.started_at),
    finished_at: isoTime(run.finished_at),
    duration_ms: run.duration_ms,
    exit_code: run.exit_code,
    reason: run.reason,
    source: run.source,
    output_truncated: run.output_truncated,
    ...(run.output !== undefined ? { output: run.output } : {}),
  };
}

export type RunJson = ReturnType<typeof runJson>;

export function runPageJson(page: RunPage) {
  return { runs: page.runs.map(runJson), next_cursor: page.next_cursor };
}

export type RunPageJson = ReturnType<typeof runPageJson>;

export function flipJson(f: Flip) {
  return { id: f.id, from: f.from, to: f.to, reason: f.reason, created_at: isoTime(f.created_at) };
}
