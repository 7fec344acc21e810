// The console's runs pages: the runs across jobs (filters in the URL, cursor pages), one run with
// its output (and the output as a download), and the timeline. Each reads the URL, calls the runs
// service and renders a view; filters the service refuses come back next to their field.
import type { AppContext } from "../context";
import { NotFound } from "../errors";
import { resolveJobRef } from "../jobs/jobs";
import { listNamespaces } from "../tenants/namespaces";
import { consoleGroup, fieldErrors, page } from "../console/surface";
import { getRun, listRuns, type RunPage } from "./runs";
import { runTimeline, TIMELINE_JOBS, TIMELINE_RUNS, type Timeline } from "./timeline";
import { RunDetailPage, RUN_WINDOWS, RunsPage, RunsResults, type RunFilters } from "../../views/runs";
import { DEFAULT_TIMELINE_WINDOW, TIMELINE_WINDOWS, TimelinePage, type TimelineFilters } from "../../views/timeline";
import type { FieldErrors } from "../../views/components/form";

const param = (q: URLSearchParams, name: string) => (q.get(name) ?? "").trim();

/** A file name for a run's output: the job's name and the run's id, nothing a header could misread. */
const outputFileName = (run: { id: number; job: { namespace: string; name: string } }) => `${run.job.namespace}-${run.job.name}-run-${run.id}.txt`.replace(/[^A-Za-z0-9._-]/g, "_");

/** A time the URL gives: ISO 8601 or epoch milliseconds; null when it is neither. */
function readTime(v: string): number | null {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

export function runsConsole(ctx: AppContext) {
  const { db } = ctx;
  return consoleGroup(ctx, "tenant")
    .get("/runs", ({ request, viewer, shell }) => {
      const tenantId = viewer!.tenantId!;
      const q = new URL(request.url).searchParams;
      const filters: RunFilters = { job: param(q, "job"), namespace: param(q, "namespace"), status: param(q, "status"), window: param(q, "window") };
      const cursor = param(q, "cursor");
      const errors: FieldErrors = {};
      let jobId: string | undefined;
      if (filters.job) {
        try {
          jobId = resolveJobRef(db, tenantId, filters.job).id;
        } catch (e) {
          if (!(e instanceof NotFound)) throw e;
          errors.job = "No job of that name in this tenant (namespace/name, or a name in the default namespace).";
        }
      }
      const window = RUN_WINDOWS.find(([v]) => v === filters.window);
      if (!window) errors.window = "Choose one of the windows offered.";
      let runs: RunPage = { runs: [], next_cursor: null };
      if (!Object.keys(errors).length) {
        try {
          runs = listRuns(db, tenantId, {
            jobId,
            namespace: filters.namespace || undefined,
            status: filters.status || undefined,
            since: window?.[2] ? String(ctx.now() - window[2]) : undefined,
            cursor: cursor || undefined,
          });
        } catch (e) {
          const fe = fieldErrors(e);
          if (!fe) throw e;
          Object.assign(errors, fe);
        }
      }
      const status = Object.keys(errors).length ? 422 : 200;
      const results = { filters, page: runs, cursor, jobId, live: !cursor && status === 200 };
      // The open first page fetching its results again (a new run): them alone.
      if ((request.headers.get("hx-target") ?? "").includes("runs-results")) return page(RunsResults(results), status);
      const namespaces = listNamespaces(db, tenantId).map((n) => n.name);
      return page(RunsPage({ shell, namespaces, errors, ...results }), status);
    })
    .get("/runs/:id", ({ params, viewer, shell }) => page(RunDetailPage({ shell, run: getRun(db, viewer!.tenantId!, params.id), now: ctx.now() })))
    .get("/runs/:id/output", ({ params, viewer }) => {
      const run = getRun(db, viewer!.tenantId!, params.id);
      // The output as it is stored (with the cut marker, if any), as a file: never rendered by the browser.
      return new Response(run.output ?? "", {
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "content-disposition": `attachment; filename="${outputFileName(run)}"`,
          "x-content-type-options": "nosniff",
          "cache-control": "no-store",
        },
      });
    })
    .get("/timeline", ({ request, viewer, shell }) => {
      const tenantId = viewer!.tenantId!;
      const now = ctx.now();
      const q = new URL(request.url).searchParams;
      const filters: TimelineFilters = { namespace: param(q, "namespace"), label: param(q, "label"), window: param(q, "window") || DEFAULT_TIMELINE_WINDOW, end: param(q, "end") };
      const cursor = param(q, "cursor");
      const errors: FieldErrors = {};
      let length = TIMELINE_WINDOWS.find(([v]) => v === filters.window)?.[2];
      if (!length) {
        errors.window = "Choose one of the windows offered.";
        length = TIMELINE_WINDOWS.find(([v]) => v === DEFAULT_TIMELINE_WINDOW)![2];
      }
      let to = now;
      if (filters.end) {
        const end = readTime(filters.end);
        if (end === null) errors.window = "The window's end in the address is not a time.";
        else to = end;
      }
      let timeline: Timeline = { from: to - length, to, rows: [], next_cursor: null, max_jobs: TIMELINE_JOBS, max_runs: TIMELINE_RUNS };
      try {
        timeline = runTimeline(db, tenantId, { from: to - length, to, namespace: filters.namespace || undefined, labels: filters.label ? [filters.label] : undefined, cursor: cursor || undefined }, now);
      } catch (e) {
        const fe = fieldErrors(e);
        if (!fe) throw e;
        Object.assign(errors, fe);
      }
      const namespaces = listNamespaces(db, tenantId).map((n) => n.name);
      return page(TimelinePage({ shell, timeline, filters, namespaces, errors, now, cursor }), Object.keys(errors).length ? 422 : 200);
    });
}
