// The jobs pages of the console: the list (/jobs), a job's page (/jobs/<ns>/<name>), create and
// edit (form and YAML), and the small fragments htmx asks for (the schedule preview, a job's status,
// the list's statuses, older log entries). Each route reads its input, calls the jobs, runs and
// agents services and renders a view; changes need the write scope (viewers see no button for them).
import type { AppContext } from "../context";
import { AppError, Conflict, Invalid, ManagedByGit, NotFound } from "../errors";
import { requireScope, type Principal } from "../auth/principal";
import { consoleGroup, field, fieldErrors, flash, page, safeNext, hxRedirect } from "../console/surface";
import type { Flash } from "../console/flash";
import { labelLines, labelsFromLines } from "../console/labels";
import { getTenantSettings } from "../tenants/tenants";
import { listNamespaces } from "../tenants/namespaces";
import { getRun, listRuns, type Run } from "../runs/runs";
import { jobLog } from "../runs/history";
import { uptimeByMonth } from "../runs/uptime";
import { jobAgents } from "../agents/detail";
import { pingSlug } from "../checkins/checkins";
import { gitManagement } from "../gitops/settings";
import { manifestYaml, parseJobText } from "./manifest";
import { describeSchedule, formatDuration, nextRuns, parseSchedule, validateTimezone } from "./schedule";
import { pingUrl } from "./json";
import { commitAuthor, editJob, type WriteBack } from "../gitops/writeback";
import {
  createJob,
  findJob,
  getJob,
  getJobById,
  listJobLabels,
  listJobs,
  nextRunTimes,
  pauseJob,
  resumeJob,
  type Job,
  type JobSort,
  type LabelSummary,
} from "./jobs";
import { BulkDeletePage, JobsPage, JobsResults, JobStatuses, jobsHref, type JobsList, type JobsQuery } from "../../views/jobs";
import { DeleteJobPage, JobHistoryPart, JobLive, JobPage, JobRecent, LogEntries, type JobHistory, type JobView } from "../../views/job";
import { JobFormPage, SchedulePreview, type JobForm, type JobFormValues, type SchedulePreviewValue } from "../../views/jobform";
import type { Shell } from "../../views/shell";

const DAY = 86_400_000;
/** How much of the newest run's output the job page shows (its end, where errors usually are). */
const OUTPUT_TAIL = 4000;
/** Uptime is shown for this many calendar months. */
const UPTIME_MONTHS = 6;

// The label chips read every job of the tenant (6 ms at 10,000 jobs, more than the page's own
// query): the list reuses them for this long, as long as no live event has gone out since (the
// hub's position is the same), so that an open list that refreshes on an event never gets chips
// from before it. Without open streams their colours may lag a status change by as much; the rows'
// statuses never do. Real time, not the app's clock: a test clock that stands still would keep
// them forever.
const LABELS_TTL_MS = 2000;

const TIMEZONES = ["UTC", ...Intl.supportedValuesOf("timeZone").filter((z) => z !== "UTC")];

const canWrite = (viewer: Principal | null) => !!viewer?.scopes.includes("write");
const jobPath = (job: Pick<Job, "namespace" | "name">) => `/jobs/${job.namespace}/${job.name}`;

/** Every value of a form field (a ticked checkbox per job). */
function fields(body: unknown, name: string): string[] {
  if (!body || typeof body !== "object") return [];
  const v = (body as Record<string, unknown>)[name];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string" && x !== "");
}

/** Whether an htmx request asks for the list's results alone (the filters and bulk actions swap them). */
const wantsResults = (request: Request) => (request.headers.get("hx-target") ?? "").includes("jobs-results");

function jobsQuery(params: URLSearchParams): JobsQuery {
  const sort = params.get("sort") ?? "name";
  return {
    namespace: params.get("namespace") ?? "",
    labels: params.getAll("label").filter(Boolean),
    status: params.get("status") ?? "",
    q: params.get("q") ?? "",
    // An order this server does not have is the service's to refuse (a 422 page).
    sort: sort as JobSort,
    cursor: params.get("cursor") ?? "",
  };
}

const labelsSeen = new Map<string, { at: number; position: string; labels: LabelSummary[] }>();

function jobLabels(ctx: AppContext, tenantId: string): LabelSummary[] {
  const now = performance.now();
  const position = ctx.events.position();
  const seen = labelsSeen.get(tenantId);
  if (seen && now - seen.at < LABELS_TTL_MS && seen.position === position) return seen.labels;
  if (labelsSeen.size > 1000) labelsSeen.clear();
  const labels = listJobLabels(ctx.db, tenantId);
  labelsSeen.set(tenantId, { at: now, position, labels });
  return labels;
}

/** The list's answer for a URL: its filters, order and page; the labels and namespaces for the filters. */
function jobsList(ctx: AppContext, viewer: Principal, params: URLSearchParams, notice?: Flash): JobsList {
  const tenantId = viewer.tenantId!;
  const query = jobsQuery(params);
  const limit = params.get("limit");
  const page = listJobs(ctx.db, tenantId, {
    namespace: query.namespace || undefined,
    labels: query.labels,
    status: query.status || undefined,
    q: query.q || undefined,
    sort: query.sort,
    cursor: query.cursor || undefined,
    limit: limit === null ? 50 : /^\d+$/.test(limit) ? Number(limit) : NaN,
  });
  return {
    query,
    jobs: page.jobs,
    nextCursor: page.next_cursor,
    labels: jobLabels(ctx, tenantId),
    namespaces: listNamespaces(ctx.db, tenantId).map((n) => n.name),
    canWrite: canWrite(viewer),
    now: ctx.now(),
    notice,
  };
}

/** The newest 100 runs of the job, newest first: what its charts draw. */
const recentRuns = (ctx: AppContext, tenantId: string, job: Job) => listRuns(ctx.db, tenantId, { jobId: job.id, limit: 100 }).runs;

/** The run log's page and the end of the newest finished run's output. */
function jobHistory(ctx: AppContext, tenantId: string, job: Job, runs: Run[], logCursor?: string): JobHistory {
  const finished = runs.find((r) => r.status !== "running");
  const output = finished ? (getRun(ctx.db, tenantId, String(finished.id)).output ?? null) : null;
  return {
    log: jobLog(ctx.db, tenantId, job.id, { cursor: logCursor, limit: 50, quiet: true }),
    latest: finished ? { run: finished, output: output && output.length > OUTPUT_TAIL ? output.slice(-OUTPUT_TAIL) : output, cut: !!output && output.length > OUTPUT_TAIL } : null,
  };
}

/** Everything a job's page shows, from the services. */
function jobView(ctx: AppContext, viewer: Principal, job: Job, logCursor?: string): JobView {
  const { db } = ctx;
  const tenantId = viewer.tenantId!;
  const now = ctx.now();
  const settings = getTenantSettings(db, tenantId);
  const slug = pingSlug(db, settings.ping_key, job);
  const base = `${ctx.config.baseUrl}/ping`;
  const runs = recentRuns(ctx, tenantId, job);
  return {
    job,
    now,
    schedule: { description: describeSchedule(parseSchedule("schedule", job.schedule, job.timezone), job.timezone), next: nextRunTimes(job, now, 5) },
    ping: {
      base,
      token: job.ping_token,
      url: pingUrl(ctx.config.baseUrl, job),
      slug: slug ? { key: settings.ping_key, slug: slug.slug, url: `${base}/${settings.ping_key}/${slug.success}`, success: slug.success } : null,
    },
    runs,
    ...jobHistory(ctx, tenantId, job, runs, logCursor),
    uptime: uptimeByMonth(db, tenantId, job, now, { months: UPTIME_MONTHS, keptSince: now - settings.retention_days * DAY }),
    agents: jobAgents(db, tenantId, job.namespace, job.name),
    canWrite: canWrite(viewer),
    git: gitManagement(db, tenantId, job),
  };
}

/** The job, for a page that changes its spec (edit, delete): refused when Git manages it without write-back. */
function editableJob(ctx: AppContext, tenantId: string, namespace: string, name: string): Job {
  const job = getJob(ctx.db, tenantId, namespace, name);
  const git = gitManagement(ctx.db, tenantId, job);
  if (git && !git.writeBack) throw new ManagedByGit(`job ${job.namespace}/${job.name}`, git.source);
  return job;
}

/** The schedule in words and its next runs in the zone, or what is wrong with them. */
function previewOf(schedule: string, timezone: string, now: number): SchedulePreviewValue {
  if (!schedule.trim()) return { kind: "empty" };
  try {
    const tz = timezone.trim() ? validateTimezone("timezone", timezone) : "UTC";
    const s = parseSchedule("schedule", schedule, tz);
    return { kind: "ok", description: describeSchedule(s, tz), next: nextRuns(s, tz, now, 5), timezone: tz };
  } catch (e) {
    if (e instanceof Invalid) return { kind: "error", message: e.message.charAt(0).toUpperCase() + e.message.slice(1) };
    throw e;
  }
}

const EMPTY_FORM: JobFormValues = { namespace: "", name: "", schedule: "", timezone: "UTC", grace: "", timeout: "", command: "", labels: "", alert_after: "" };

function formValuesOf(job: Job): JobFormValues {
  return {
    namespace: job.namespace,
    name: job.name,
    schedule: job.schedule,
    timezone: job.timezone,
    grace: formatDuration(job.grace_s),
    timeout: job.timeout_s === null ? "" : formatDuration(job.timeout_s),
    command: job.command ?? "",
    labels: labelLines(job.labels),
    alert_after: String(job.alert_after),
  };
}

function formValuesFrom(body: unknown, job: Job | null): JobFormValues {
  const get = (name: keyof JobFormValues) => field(body, name).trim();
  return {
    namespace: job ? job.namespace : get("namespace"),
    name: job ? job.name : get("name"),
    schedule: get("schedule"),
    timezone: get("timezone"),
    grace: get("grace"),
    timeout: get("timeout"),
    command: get("command"),
    labels: field(body, "labels"),
    alert_after: get("alert_after"),
  };
}

const NEW_MANIFEST = `apiVersion: crontopus/v1
kind: Job
metadata:
  name: db-backup
  namespace: default
  labels:
    env: prod
spec:
  schedule: "0 2 * * *"
  timezone: UTC
  grace: 5m
`;

/**
 * The job document the form stands for, in the API's plain shape (the same parser's field names).
 * On an edit, an empty field means its default (null); on create it is left out.
 */
function documentOf(v: JobFormValues, editing: boolean): Record<string, unknown> {
  const labels = labelsFromLines("labels", v.labels);
  const opt = (value: string, as: (s: string) => unknown = (s) => s) => (value ? as(value) : editing ? null : undefined);
  const doc: Record<string, unknown> = {
    schedule: v.schedule,
    timezone: opt(v.timezone),
    grace: opt(v.grace),
    timeout: opt(v.timeout),
    command: opt(v.command),
    labels,
    alerts: { after: opt(v.alert_after, (s) => (/^\d+$/.test(s) ? Number(s) : s)) },
  };
  if (!editing) {
    if (v.namespace) doc.namespace = v.namespace;
    doc.name = v.name;
  }
  for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
  if ((doc.alerts as { after: unknown }).after === undefined) delete doc.alerts;
  return doc;
}

const FORM_FIELDS = new Set(["namespace", "name", "schedule", "timezone", "grace", "timeout", "command", "labels"]);

/** A service's error as the form shows it: next to its field, or above the form. */
function formErrorsOf(e: unknown, tab: "form" | "yaml"): { errors: Record<string, string>; alert?: string } | null {
  // Write-back could not commit the change (changed in Git meanwhile, not pushed): the form stays, with why.
  if (e instanceof AppError && e.code.startsWith("write_back_")) return { errors: {}, alert: e.message.charAt(0).toUpperCase() + e.message.slice(1) + "." };
  if (e instanceof Conflict) return tab === "form" ? { errors: { name: "A job of this name exists in this namespace already." } } : { errors: { yaml: `${e.message}.` } };
  if (!(e instanceof AppError) || e.code !== "validation_failed") return null;
  // The manifest's own words, path and all: the YAML names its fields as the message does.
  if (tab === "yaml") return { errors: { yaml: e.message.charAt(0).toUpperCase() + e.message.slice(1) } };
  const byField = fieldErrors(e) ?? {};
  const errors: Record<string, string> = {};
  let alert: string | undefined;
  for (const [path, message] of Object.entries(byField)) {
    const name = path === "alerts.after" ? "alert_after" : path.split(/[.[]/)[0]!;
    if (FORM_FIELDS.has(name) || name === "alert_after") errors[name] ??= path.includes(".") && name === "labels" ? `${path.slice(name.length + 1)}: ${message}` : message;
    else alert ??= `${path}: ${message}`;
  }
  return { errors, alert };
}

export function jobsConsole(ctx: AppContext) {
  const { db } = ctx;
  const tenantOf = (viewer: Principal | null) => viewer!.tenantId!;
  const formPage = (shell: Shell, form: JobForm, status = 200) => page(JobFormPage({ shell, form }), status);
  const newForm = (over: Partial<JobForm> = {}): JobForm => ({
    job: null,
    tab: "form",
    values: EMPTY_FORM,
    yaml: NEW_MANIFEST,
    errors: {},
    preview: { kind: "empty" },
    namespaces: [],
    timezones: TIMEZONES,
    ...over,
  });

  return (
    consoleGroup(ctx, "tenant")
      // The list.
      .get("/jobs", async ({ request, viewer, shell }) => {
        const list = jobsList(ctx, viewer!, new URL(request.url).searchParams);
        if (!wantsResults(request)) return page(JobsPage({ shell, list }));
        // The filter form's fields, empty ones too, would make a long URL: history gets the list's own.
        const answer = await page(JobsResults({ list, csrf: shell.csrf }));
        answer.headers.set("hx-push-url", jobsHref(list.query, { cursor: list.query.cursor }));
        return answer;
      })
      .get("/jobs/statuses", ({ request, viewer }) => {
        const tenantId = tenantOf(viewer);
        const params = new URL(request.url).searchParams;
        const jobs = params
          .getAll("id")
          .slice(0, 500)
          .flatMap((id) => {
            try {
              return [getJobById(db, tenantId, id)];
            } catch (e) {
              if (e instanceof NotFound) return [];
              throw e;
            }
          });
        // The list's chips too, for its filters (the list's own poll asks for them).
        const chips = params.has("chips") ? { labels: jobLabels(ctx, tenantId), query: jobsQuery(params) } : undefined;
        return page(JobStatuses({ jobs, chips }));
      })
      .post("/jobs/bulk", async ({ body, request, viewer, shell, set }) => {
        const p = requireScope(viewer, "write");
        const tenantId = p.tenantId;
        const action = field(body, "action");
        const refs = [...new Set(fields(body, "job"))];
        const backRaw = safeNext(field(body, "back"));
        const back = backRaw === "/jobs" || backRaw.startsWith("/jobs?") ? backRaw : "/jobs";
        const answer = (notice: Flash) => {
          if (wantsResults(request)) return page(JobsResults({ list: jobsList(ctx, viewer!, new URL(back, "http://x").searchParams, notice), csrf: shell.csrf }));
          flash(ctx, set, notice);
          return hxRedirect(request, back);
        };
        if (!refs.length) return answer({ kind: "error", text: "Tick one or more jobs first." });
        if (!["pause", "resume", "delete"].includes(action)) return answer({ kind: "error", text: "Choose pause, resume or delete." });
        if (action === "delete" && field(body, "confirmed") !== "yes") return page(BulkDeletePage({ shell, refs, back }));
        const now = ctx.now();
        let done = 0;
        let missing = 0;
        let managed = 0;
        for (const ref of refs) {
          const slash = ref.indexOf("/");
          try {
            if (slash <= 0) throw new NotFound(`job ${ref}`);
            const [ns, name] = [ref.slice(0, slash), ref.slice(slash + 1)];
            if (action === "pause") pauseJob(db, tenantId, ns, name, now);
            else if (action === "resume") resumeJob(db, tenantId, ns, name, now);
            else await editJob(ctx.gitops, tenantId, ns, name, { kind: "delete" }, commitAuthor(db, p));
            done++;
          } catch (e) {
            if (e instanceof ManagedByGit) managed++;
            else if (e instanceof NotFound) missing++;
            else throw e;
          }
        }
        const verb = { pause: "Paused", resume: "Resumed", delete: "Deleted" }[action as "pause"];
        const text = `${verb} ${done} ${done === 1 ? "job" : "jobs"}.${missing ? ` ${missing} not found.` : ""}${managed ? ` ${managed} managed by Git, left as ${managed === 1 ? "it is" : "they are"}: change ${managed === 1 ? "it" : "them"} in the repository.` : ""}`;
        return answer({ kind: missing || managed ? "info" : "ok", text });
      })

      // Create.
      .get("/jobs/preview", ({ query }) => {
        const q = query as Record<string, string | undefined>;
        return page(SchedulePreview({ preview: previewOf(q.schedule ?? "", q.timezone ?? "", ctx.now()) }));
      })
      .get("/jobs/new", ({ query, viewer, shell }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const tab = (query as Record<string, string>).tab === "yaml" ? "yaml" : "form";
        return formPage(shell, newForm({ tab, namespaces: listNamespaces(db, tenantId).map((n) => n.name) }));
      })
      .post("/jobs/new", ({ body, request, viewer, shell, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const tab = field(body, "tab") === "yaml" ? "yaml" : "form";
        const values = tab === "form" ? formValuesFrom(body, null) : EMPTY_FORM;
        const yaml = tab === "yaml" ? field(body, "yaml") : NEW_MANIFEST;
        try {
          const doc = tab === "yaml" ? oneDocument(yaml) : documentOf(values, false);
          const { job, warnings } = createJob(db, tenantId, doc, ctx.now());
          flash(ctx, set, { kind: warnings.length ? "info" : "ok", text: `Created ${job.namespace}/${job.name}.${warnings.length ? ` ${warnings.join("; ")}.` : ""}` });
          return hxRedirect(request, jobPath(job));
        } catch (e) {
          const shown = formErrorsOf(e, tab);
          if (!shown) throw e;
          const namespaces = listNamespaces(db, tenantId).map((n) => n.name);
          return formPage(shell, newForm({ tab, values, yaml, namespaces, ...shown, preview: previewOf(values.schedule, values.timezone, ctx.now()) }), 422);
        }
      })

      // A job.
      .get("/jobs/:namespace/:name", ({ params, query, viewer, shell }) => {
        const job = getJob(db, tenantOf(viewer), params.namespace, params.name);
        const log = (query as Record<string, string | undefined>).log;
        return page(JobPage({ shell, view: jobView(ctx, viewer!, job, log), older: !!log }));
      })
      .get("/jobs/:namespace/:name/live", ({ params, request, viewer }) => {
        const job = findJob(db, tenantOf(viewer), params.namespace, params.name);
        // Deleted while open: the poll takes the page to the list, which has nothing left of it.
        if (!job && request.headers.get("hx-request") === "true") return new Response(null, { status: 200, headers: { "hx-redirect": "/jobs" } });
        if (!job) throw new NotFound(`job ${params.namespace}/${params.name}`);
        return page(JobLive({ job, now: ctx.now() }));
      })
      .get("/jobs/:namespace/:name/recent", ({ params, viewer }) => {
        const job = getJob(db, tenantOf(viewer), params.namespace, params.name);
        return page(JobRecent({ job, runs: recentRuns(ctx, tenantOf(viewer), job) }));
      })
      .get("/jobs/:namespace/:name/history", ({ params, viewer }) => {
        const job = getJob(db, tenantOf(viewer), params.namespace, params.name);
        return page(JobHistoryPart({ job, history: jobHistory(ctx, tenantOf(viewer), job, recentRuns(ctx, tenantOf(viewer), job)), now: ctx.now() }));
      })
      .get("/jobs/:namespace/:name/log", ({ params, query, viewer }) => {
        const job = getJob(db, tenantOf(viewer), params.namespace, params.name);
        const cursor = (query as Record<string, string | undefined>).cursor;
        return page(LogEntries({ job, log: jobLog(db, tenantOf(viewer), job.id, { cursor, limit: 50, quiet: true }), now: ctx.now(), older: !!cursor }));
      })
      .post("/jobs/:namespace/:name/pause", ({ params, request, viewer, set }) => {
        const job = pauseJob(db, requireScope(viewer, "write").tenantId, params.namespace, params.name, ctx.now());
        flash(ctx, set, { kind: "ok", text: `Paused ${job.namespace}/${job.name}: its check-ins are kept, nothing alerts.` });
        return hxRedirect(request, jobPath(job));
      })
      .post("/jobs/:namespace/:name/resume", ({ params, request, viewer, set }) => {
        const job = resumeJob(db, requireScope(viewer, "write").tenantId, params.namespace, params.name, ctx.now());
        flash(ctx, set, { kind: "ok", text: `Resumed ${job.namespace}/${job.name}.` });
        return hxRedirect(request, jobPath(job));
      })
      .get("/jobs/:namespace/:name/delete", ({ params, viewer, shell }) => {
        const job = editableJob(ctx, requireScope(viewer, "write").tenantId, params.namespace, params.name);
        return page(DeleteJobPage({ shell, job }));
      })
      .post("/jobs/:namespace/:name/delete", async ({ params, request, viewer, set }) => {
        const p = requireScope(viewer, "write");
        const { writeBack } = await editJob(ctx.gitops, p.tenantId, params.namespace, params.name, { kind: "delete" }, commitAuthor(db, p));
        flash(ctx, set, { kind: "ok", text: `Deleted ${params.namespace}/${params.name}.${committed(writeBack)}` });
        return hxRedirect(request, "/jobs");
      })

      // Edit.
      .get("/jobs/:namespace/:name/edit", ({ params, query, viewer, shell }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const job = editableJob(ctx, tenantId, params.namespace, params.name);
        const tab = (query as Record<string, string>).tab === "yaml" ? "yaml" : "form";
        const values = formValuesOf(job);
        return formPage(shell, newForm({ job, tab, values, yaml: manifestYaml(job), preview: previewOf(values.schedule, values.timezone, ctx.now()) }));
      })
      .post("/jobs/:namespace/:name/edit", async ({ params, body, request, viewer, shell, set }) => {
        const p = requireScope(viewer, "write");
        const tenantId = p.tenantId;
        const job = getJob(db, tenantId, params.namespace, params.name);
        const tab = field(body, "tab") === "yaml" ? "yaml" : "form";
        const values = tab === "form" ? formValuesFrom(body, job) : formValuesOf(job);
        const yaml = tab === "yaml" ? field(body, "yaml") : manifestYaml(job);
        try {
          const edit = tab === "yaml" ? { kind: "put" as const, doc: oneDocument(yaml) } : { kind: "patch" as const, doc: documentOf(values, true) };
          const { result, writeBack } = await editJob(ctx.gitops, tenantId, job.namespace, job.name, edit, commitAuthor(db, p));
          const { warnings, changed } = result!;
          const what = (changed ? `Saved ${job.namespace}/${job.name}.` : `Nothing changed in ${job.namespace}/${job.name}.`) + committed(writeBack);
          flash(ctx, set, { kind: warnings.length ? "info" : "ok", text: `${what}${warnings.length ? ` ${warnings.join("; ")}.` : ""}` });
          return hxRedirect(request, jobPath(job));
        } catch (e) {
          const shown = formErrorsOf(e, tab);
          if (!shown) throw e;
          return formPage(shell, newForm({ job, tab, values, yaml, ...shown, preview: previewOf(values.schedule, values.timezone, ctx.now()) }), 422);
        }
      })
  );
}

/** What the flash adds for a change that went to Git. */
function committed(w: WriteBack | null): string {
  return w ? ` Committed ${w.commit.slice(0, 7)} to ${w.branch} (${w.path}).` : "";
}

/** The one job document of the YAML tab. */
function oneDocument(text: string): unknown {
  const docs = parseJobText(text, "application/yaml");
  if (docs.length !== 1) throw new Invalid("body", `expected one job document, got ${docs.length}`);
  return docs[0];
}
