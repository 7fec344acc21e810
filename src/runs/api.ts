import { t, type TSchema } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { getJob, resolveJobRef } from "../jobs/jobs";
import { getRun, listFlips, listRuns } from "./runs";
import { flipJson, runJson, runPageJson } from "./json";

const runQuery = t.Object({
  job: t.Optional(t.String({ description: "namespace/name, name (default namespace) or job id" })),
  status: t.Optional(t.String()),
  since: t.Optional(t.String({ description: "ISO 8601" })),
  until: t.Optional(t.String({ description: "ISO 8601" })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: t.Optional(t.String()),
  output: t.Optional(t.BooleanString({ description: "include each run's output" })),
  all: t.Optional(t.BooleanString({ description: "with a job: every check-in, also log lines and the starts of finished runs" })),
});

const jobRef = t.Object({ namespace: t.String(), name: t.String() });

const orNull = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const Time = t.String({ format: "date-time" });
const RunSchema = t.Object({
  id: t.Integer(),
  kind: t.String({ description: "start, success, fail or log" }),
  job: t.String({ description: "namespace/name" }),
  job_id: t.String(),
  run_id: orNull(t.String()),
  status: t.String({ description: "running, success, failed or timeout" }),
  started_at: orNull(Time),
  finished_at: orNull(Time),
  duration_ms: orNull(t.Integer()),
  exit_code: orNull(t.Integer()),
  reason: orNull(t.String()),
  source: orNull(t.String()),
  output_truncated: t.Boolean({ description: "the output kept is the head and tail of a longer one" }),
  output: t.Optional(orNull(t.String())),
});
const RunPageSchema = t.Object({ runs: t.Array(RunSchema), next_cursor: orNull(t.String()) });
const FlipSchema = t.Object({ id: t.Integer(), from: t.String(), to: t.String(), reason: t.String(), created_at: Time });

export function runsApi(ctx: AppContext) {
  const { db } = ctx;
  return apiGroup(ctx, "", "runs")
    .get(
      "/runs",
      ({ principal, query }) => {
        const p = requireScope(principal, "read");
        const jobId = query.job ? resolveJobRef(db, p.tenantId, query.job).id : undefined;
        return runPageJson(listRuns(db, p.tenantId, { ...query, jobId }));
      },
      { query: runQuery, detail: { summary: "Runs, newest first, a page at a time", responses: responses(200, "A page of runs", RunPageSchema) } },
    )
    .get("/runs/:id", ({ principal, params }) => runJson(getRun(db, requireScope(principal, "read").tenantId, params.id)), {
      params: t.Object({ id: t.String({ description: "a run id from the list (a number)" }) }),
      detail: { summary: "One run, with its output", responses: responses(200, "The run", RunSchema) },
    })
    .get(
      "/jobs/:namespace/:name/runs",
      ({ principal, params, query }) => {
        const p = requireScope(principal, "read");
        const job = getJob(db, p.tenantId, params.namespace, params.name);
        return runPageJson(listRuns(db, p.tenantId, { ...query, jobId: job.id }));
      },
      { params: jobRef, query: t.Omit(runQuery, ["job"]), detail: { summary: "Runs of one job", responses: responses(200, "A page of runs", RunPageSchema) } },
    )
    .get(
      "/jobs/:namespace/:name/flips",
      ({ principal, params, query }) => {
        const p = requireScope(principal, "read");
        const job = getJob(db, p.tenantId, params.namespace, params.name);
        return { flips: listFlips(db, p.tenantId, job.id, query.limit).map(flipJson) };
      },
      {
        params: jobRef,
        query: t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
        detail: { summary: "Status changes of one job, newest first", responses: responses(200, "The flips", t.Object({ flips: t.Array(FlipSchema) })) },
      },
    );
}
