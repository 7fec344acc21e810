import { t, type TSchema } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { Invalid, UnsupportedMediaType } from "../errors";
import { apiGroup } from "../http";
import { requireScope, type Principal } from "../auth/principal";
import { parseJobText } from "./manifest";
import { createJob, getJob, listJobs, pauseJob, resumeJob, type Job, type WriteResult } from "./jobs";
import { commitAuthor, editJob, type WriteBack } from "../gitops/writeback";
import { jobJson } from "./json";
import { exportJobs } from "./export";
import { createNamespace, deleteNamespace, listNamespaces } from "../tenants/namespaces";
import { namespaceJson } from "../tenants/json";
import { getTenantSettings } from "../tenants/tenants";

// What a job body may be sent as. Types that say nothing about the text (none, text/plain,
// and what `curl --data-binary @job.yaml` sends: application/x-www-form-urlencoded) are read
// by looking at the text, as docs/job-manifest.md says; anything else is refused.
const DECLARED = /^(application\/json|(application|text)\/(x-)?yaml)$|\+(json|yaml)$/;
const UNDECLARED = new Set(["", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]);

/** The job routes read their body as text: the manifest parser gives JSON and YAML errors with their line. */
async function jobText({ request, contentType }: { request: Request; contentType: string }): Promise<string> {
  const media = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (!DECLARED.test(media) && !UNDECLARED.has(media)) {
    throw new UnsupportedMediaType(`body: Content-Type ${media} is not accepted; send application/json or application/yaml (or text with no type)`);
  }
  return await request.text();
}

/** A job body is YAML or JSON text (see jobText); one document. */
function oneDocument(body: unknown, contentType: string | null): unknown {
  const docs = parseJobText(typeof body === "string" ? body : "", contentType ?? undefined);
  if (docs.length !== 1) throw new Invalid("body", `expected one job document, got ${docs.length}`);
  return docs[0];
}

const jobRef = t.Object({ namespace: t.String(), name: t.String() });
const Str = t.String();
const orNull = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const Labels = t.Record(t.String(), t.String());
const Duration = t.Union([t.Integer({ minimum: 0 }), t.String()], { description: "seconds, or 30s, 5m, 1h30m, 2d" });
const Time = t.String({ format: "date-time" });

/** A job as every read and write answers it. */
export const JobSchema = t.Object({
  id: Str,
  namespace: Str,
  name: Str,
  status: t.String({ description: "new, up, running, late, down, failed or paused" }),
  labels: Labels,
  annotations: Labels,
  schedule: Str,
  schedule_description: Str,
  timezone: Str,
  next_runs: t.Array(t.String({ description: "in the job's timezone" })),
  command: orNull(Str),
  args: t.Array(Str),
  working_dir: orNull(Str),
  env: Labels,
  grace: t.Integer({ description: "seconds" }),
  timeout: orNull(t.Integer({ description: "seconds" })),
  enabled: t.Boolean(),
  paused: t.Boolean(),
  agent: orNull(t.Object({ selector: Labels })),
  user: orNull(Str),
  alerts: t.Object({
    after: t.Integer(),
    min_runtime: orNull(t.Integer()),
    start_grace: orNull(t.Integer()),
    renotify: orNull(t.Integer()),
    channels: orNull(t.Array(Str)),
  }),
  ping_url: Str,
  badge_url: t.Optional(Str),
  status_since: orNull(Time),
  expected_at: orNull(Str),
  last_ping_at: orNull(Time),
  last_success_at: orNull(Time),
  last_failure_at: orNull(Time),
  last_duration_ms: orNull(t.Integer()),
  last_exit_code: orNull(t.Integer()),
  consecutive_failures: t.Integer(),
  checkins_total: t.Integer(),
  source: orNull(t.Object({ repository: Str, path: orNull(Str), commit: orNull(Str) }, { description: "where Git defines the job (GitOps); null otherwise" })),
  paused_override: t.Boolean({ description: "true when a git-managed job was paused or resumed against its manifest's spec.paused: a runtime override a sync keeps" }),
  created_at: Time,
  updated_at: Time,
});

/** What a write-back did (GitOps, docs/gitops.md): the commit pushed and the sync that applied it. */
const WriteBackSchema = t.Object(
  {
    commit: Str,
    path: t.String({ description: "the manifest's file, from the repository root" }),
    branch: Str,
    sync: t.Object({ state: t.String({ description: "ok or degraded: the sync of the commit applied the change" }), message: orNull(Str) }),
  },
  { description: "present when the change went to Git (a git-managed job, write_back on)" },
);

const JobWriteSchema = t.Composite([
  JobSchema,
  t.Object({
    warnings: t.Array(Str, { description: "fields the server ignored" }),
    changed: t.Boolean({ description: "false when the job already had this spec: nothing was written" }),
    write_back: t.Optional(WriteBackSchema),
  }),
]);

const NamespaceSchema = t.Object({ name: Str, jobs: t.Integer(), created_at: Time });

const jobFields = {
  labels: t.Optional(Labels),
  annotations: t.Optional(Labels),
  schedule: t.String({ description: "cron (5 fields), @hourly…, or @every 5m" }),
  timezone: t.Optional(t.String({ default: "UTC" })),
  command: t.Optional(orNull(Str)),
  args: t.Optional(t.Array(Str)),
  env: t.Optional(Labels),
  grace: t.Optional(Duration),
  timeout: t.Optional(orNull(Duration)),
  enabled: t.Optional(t.Boolean()),
  paused: t.Optional(t.Boolean()),
  agent: t.Optional(orNull(t.Object({ selector: Labels }))),
  user: t.Optional(orNull(Str)),
};
const PlainJob = t.Object(
  { name: Str, namespace: t.Optional(t.String({ default: "default" })), ...jobFields, working_dir: t.Optional(orNull(Str)) },
  { title: "Job (plain)", description: "The shape GET answers; see docs/job-manifest.md for every field" },
);
const ManifestJob = t.Object(
  {
    apiVersion: t.Literal("crontopus/v1"),
    kind: t.Literal("Job"),
    metadata: t.Object({ name: Str, namespace: t.Optional(Str), labels: t.Optional(Labels), annotations: t.Optional(Labels) }),
    spec: t.Object({ ...jobFields, workingDir: t.Optional(orNull(Str)) }),
  },
  { title: "Job (manifest)", description: "A crontopus/v1 manifest; see docs/job-manifest.md" },
);
const JobInput = t.Union([PlainJob, ManifestJob]);

/** The job routes' body, for the API document: read as text (see jobText), so no route schema. */
const jobBody = {
  required: true,
  description: "One job as JSON or YAML. A body with no type, text/plain or application/x-www-form-urlencoded (curl --data-binary) is read by its first character.",
  content: { "application/json": { schema: JobInput }, "application/yaml": { schema: JobInput } } as Record<string, any>,
};

/** What PUT and PATCH read: the job the URL names and its body (see jobText). */
interface NamedWrite {
  principal: Principal | null;
  params: { namespace: string; name: string };
  body: unknown;
  request: Request;
  set: { status?: number | string };
}

/** PUT and PATCH write the job the URL names with one document: the same route but for the service call. */
const namedWrite = (summary: string, answers: ReturnType<typeof responses>) => ({ params: jobRef, parse: jobText, detail: { summary, requestBody: jobBody, responses: answers } });

export function jobsApi(ctx: AppContext) {
  const { db } = ctx;
  const badgeKey = (tenantId: string) => getTenantSettings(db, tenantId).badge_key;
  const show = (job: Job) => jobJson(job, ctx.config.baseUrl, ctx.now(), badgeKey(job.tenant_id));
  const answer = (r: WriteResult, set: { status?: number | string }, writeBack?: WriteBack | null) => {
    set.status = r.created ? 201 : 200;
    return { ...show(r.job), warnings: r.warnings, changed: r.changed, ...(writeBack ? { write_back: writeBack } : {}) };
  };
  /** PUT and PATCH: one service call, which writes back to Git for a git-managed job with write_back on. */
  const writeNamed = async (kind: "put" | "patch", { principal, params, body, request, set }: NamedWrite) => {
    const p = requireScope(principal, "write");
    const doc = oneDocument(body, request.headers.get("content-type"));
    const r = await editJob(ctx.gitops, p.tenantId, params.namespace, params.name, { kind, doc }, commitAuthor(db, p));
    return answer(r.result!, set, r.writeBack);
  };

  return apiGroup(ctx, "", "jobs")
    .get(
      "/namespaces",
      ({ principal }) => ({ namespaces: listNamespaces(db, requireScope(principal, "read").tenantId).map(namespaceJson) }),
      { detail: { summary: "Namespaces with their job counts", responses: responses(200, "The namespaces", t.Object({ namespaces: t.Array(NamespaceSchema) })) } },
    )
    .post(
      "/namespaces",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "write");
        set.status = 201;
        return namespaceJson(createNamespace(db, p.tenantId, body.name, ctx.now()));
      },
      { body: t.Object({ name: t.String({ minLength: 1, maxLength: 63 }) }), detail: { summary: "Create a namespace", responses: responses(201, "The namespace", NamespaceSchema, [409]) } },
    )
    .delete(
      "/namespaces/:name",
      ({ principal, params, set }) => {
        deleteNamespace(db, requireScope(principal, "write").tenantId, params.name);
        set.status = 204;
      },
      { params: t.Object({ name: t.String() }), detail: { summary: "Delete an empty namespace (409 while it has jobs)", responses: responses(204, "Deleted", null, [409]) } },
    )
    .get(
      "/jobs",
      ({ principal, query, request }) => {
        const p = requireScope(principal, "read");
        const labels = new URL(request.url).searchParams.getAll("label");
        const page = listJobs(db, p.tenantId, {
          namespace: query.namespace,
          status: query.status,
          labels,
          q: query.q,
          limit: query.limit,
          cursor: query.cursor,
        });
        const now = ctx.now();
        const key = badgeKey(p.tenantId);
        return { jobs: page.jobs.map((j) => jobJson(j, ctx.config.baseUrl, now, key)), next_cursor: page.next_cursor };
      },
      {
        query: t.Object({
          namespace: t.Optional(t.String()),
          status: t.Optional(t.String()),
          label: t.Optional(t.Union([t.String(), t.Array(t.String())], { description: "key=value or key; repeat to AND" })),
          q: t.Optional(t.String()),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50 })),
          cursor: t.Optional(t.String()),
        }),
        detail: { summary: "List jobs, a page at a time", responses: responses(200, "A page of jobs", t.Object({ jobs: t.Array(JobSchema), next_cursor: orNull(Str) })) },
      },
    )
    .post(
      "/jobs",
      ({ principal, body, request, set }) =>
        answer(createJob(db, requireScope(principal, "write").tenantId, oneDocument(body, request.headers.get("content-type")), ctx.now()), set),
      { parse: jobText, detail: { summary: "Create a job (409 if it exists)", requestBody: jobBody, responses: responses(201, "The job, with warnings", JobWriteSchema, [409, 415]) } },
    )
    .put(
      "/jobs/:namespace/:name",
      (c) => writeNamed("put", c),
      namedWrite("Create or replace a job (201 created, 200 replaced or unchanged; a git-managed job: 409, or a commit with write_back on)", {
        ...responses(200, "Replaced (`changed` false: it was already so)", JobWriteSchema, [409, 415, 502]),
        ...responses(201, "Created", JobWriteSchema),
      }),
    )
    .get(
      "/jobs/export",
      ({ principal, query }) => ({ files: exportJobs(db, requireScope(principal, "read").tenantId, query.namespace) }),
      {
        query: t.Object({ namespace: t.Optional(t.String({ description: "Only this namespace" })) }),
        detail: {
          summary: "The jobs as manifest files, one per job at <namespace>/<name>.yaml (crontopus jobs export)",
          responses: responses(200, "The files, ordered by path", t.Object({ files: t.Array(t.Object({ path: t.String({ description: "<namespace>/<name>.yaml" }), content: t.String({ description: "a crontopus/v1 manifest (YAML)" }) })) })),
        },
      },
    )
    .get(
      "/jobs/:namespace/:name",
      ({ principal, params }) =>
        show(getJob(db, requireScope(principal, "read").tenantId, params.namespace, params.name)),
      { params: jobRef, detail: { summary: "One job", responses: responses(200, "The job", JobSchema) } },
    )
    .patch(
      "/jobs/:namespace/:name",
      (c) => writeNamed("patch", c),
      namedWrite("Change some fields of a job", responses(200, "The job, with warnings", JobWriteSchema, [409, 415, 502])),
    )
    .delete(
      "/jobs/:namespace/:name",
      async ({ principal, params, set }) => {
        const p = requireScope(principal, "write");
        const r = await editJob(ctx.gitops, p.tenantId, params.namespace, params.name, { kind: "delete" }, commitAuthor(db, p));
        // Through Git, the answer says which commit removed it.
        if (r.writeBack) return { namespace: params.namespace, name: params.name, deleted: true, write_back: r.writeBack };
        set.status = 204;
      },
      {
        params: jobRef,
        detail: {
          summary: "Delete a job (a git-managed job: 409, or a commit removing its manifest with write_back on)",
          responses: {
            ...responses(204, "Deleted", null, [409, 502]),
            ...responses(200, "Deleted through Git (write_back on): the commit that removed its manifest", t.Object({ namespace: Str, name: Str, deleted: t.Literal(true), write_back: WriteBackSchema })),
          },
        },
      },
    )
    .post(
      "/jobs/:namespace/:name/pause",
      ({ principal, params }) =>
        show(pauseJob(db, requireScope(principal, "write").tenantId, params.namespace, params.name, ctx.now())),
      { params: jobRef, detail: { summary: "Pause a job: check-ins are kept, nothing alerts", responses: responses(200, "The job", JobSchema) } },
    )
    .post(
      "/jobs/:namespace/:name/resume",
      ({ principal, params }) =>
        show(resumeJob(db, requireScope(principal, "write").tenantId, params.namespace, params.name, ctx.now())),
      { params: jobRef, detail: { summary: "Resume a paused job", responses: responses(200, "The job", JobSchema) } },
    );
}
