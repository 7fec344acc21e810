import { t } from "elysia";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { getJob } from "../jobs/jobs";
import { getRun, listFlips, listRuns } from "./runs";
import { findCheckinJob } from "../checkins/checkins";

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

export function runsApi(ctx: AppContext) {
  const { db } = ctx;
  return apiGroup(ctx, "", "runs")
    .get(
      "/runs",
      ({ principal, query }) => {
        const p = requireScope(principal, "read");
        const jobId = query.job ? findCheckinJob(db, p.tenantId, query.job).id : undefined;
        return listRuns(db, p.tenantId, { ...query, jobId });
      },
      { query: runQuery, detail: { summary: "Runs, newest first, a page at a time" } },
    )
    .get("/runs/:id", ({ principal, params }) => getRun(db, requireScope(principal, "read").tenantId, params.id), {
      detail: { summary: "One run, with its output" },
    })
    .get(
      "/jobs/:namespace/:name/runs",
      ({ principal, params, query }) => {
        const p = requireScope(principal, "read");
        const job = getJob(db, p.tenantId, params.namespace, params.name);
        return listRuns(db, p.tenantId, { ...query, jobId: job.id });
      },
      { params: jobRef, query: t.Omit(runQuery, ["job"]), detail: { summary: "Runs of one job" } },
    )
    .get(
      "/jobs/:namespace/:name/flips",
      ({ principal, params, query }) => {
        const p = requireScope(principal, "read");
        const job = getJob(db, p.tenantId, params.namespace, params.name);
        return { flips: listFlips(db, p.tenantId, job.id, query.limit) };
      },
      {
        params: jobRef,
        query: t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
        detail: { summary: "Status changes of one job, newest first" },
      },
    );
}
