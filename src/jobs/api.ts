import { t } from "elysia";
import type { AppContext } from "../context";
import { Invalid } from "../errors";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { parseJobText } from "./manifest";
import {
  createJob,
  deleteJob,
  getJob,
  jobJson,
  listJobs,
  pauseJob,
  patchJob,
  putJob,
  resumeJob,
  type Job,
  type WriteResult,
} from "./jobs";
import { createNamespace, deleteNamespace, listNamespaces } from "./namespaces";
import { getTenantSettings } from "../auth/identity";

const YAML_TYPES = /^(application|text)\/(x-)?yaml\b/i;

/** A job body arrives as parsed JSON, or as YAML/JSON text; either way one document. */
function oneDocument(body: unknown, contentType: string | null): unknown {
  if (typeof body !== "string") return body;
  const docs = parseJobText(body, contentType ?? undefined);
  if (docs.length !== 1) throw new Invalid("body", `expected one job document, got ${docs.length}`);
  return docs[0];
}

const jobRef = t.Object({ namespace: t.String(), name: t.String() });
const jobBody = t.Unknown({
  description:
    "A job as plain JSON (the shape GET returns) or a crontopus/v1 manifest, as JSON or YAML (Content-Type: application/yaml). See docs/job-manifest.md.",
});

export function jobsApi(ctx: AppContext) {
  const { db } = ctx;
  const badgeKey = (tenantId: string) => getTenantSettings(db, tenantId).badge_key;
  const show = (job: Job) => jobJson(job, ctx.config.baseUrl, ctx.now(), badgeKey(job.tenant_id));
  const answer = (r: WriteResult, set: { status?: number | string }) => {
    set.status = r.created ? 201 : 200;
    return { ...show(r.job), warnings: r.warnings };
  };

  return apiGroup(ctx, "", "jobs")
    .onParse(async ({ request, contentType }) => {
      if (YAML_TYPES.test(contentType)) return await request.text();
    })
    .get(
      "/namespaces",
      ({ principal }) => ({ namespaces: listNamespaces(db, requireScope(principal, "read").tenantId) }),
      { detail: { summary: "Namespaces with their job counts" } },
    )
    .post(
      "/namespaces",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "write");
        set.status = 201;
        return createNamespace(db, p.tenantId, body.name, ctx.now());
      },
      { body: t.Object({ name: t.String({ minLength: 1, maxLength: 63 }) }), detail: { summary: "Create a namespace" } },
    )
    .delete(
      "/namespaces/:name",
      ({ principal, params, set }) => {
        deleteNamespace(db, requireScope(principal, "write").tenantId, params.name);
        set.status = 204;
      },
      { detail: { summary: "Delete an empty namespace (409 while it has jobs)" } },
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
        detail: { summary: "List jobs, a page at a time" },
      },
    )
    .post(
      "/jobs",
      ({ principal, body, request, set }) =>
        answer(createJob(db, requireScope(principal, "write").tenantId, oneDocument(body, request.headers.get("content-type")), ctx.now()), set),
      { body: jobBody, detail: { summary: "Create a job (409 if it exists)" } },
    )
    .put(
      "/jobs/:namespace/:name",
      ({ principal, params, body, request, set }) => {
        const p = requireScope(principal, "write");
        const doc = oneDocument(body, request.headers.get("content-type"));
        return answer(putJob(db, p.tenantId, params.namespace, params.name, doc, ctx.now()), set);
      },
      { params: jobRef, body: jobBody, detail: { summary: "Create or replace a job (201 created, 200 replaced)" } },
    )
    .get(
      "/jobs/:namespace/:name",
      ({ principal, params }) =>
        show(getJob(db, requireScope(principal, "read").tenantId, params.namespace, params.name)),
      { params: jobRef, detail: { summary: "One job" } },
    )
    .patch(
      "/jobs/:namespace/:name",
      ({ principal, params, body, request, set }) => {
        const p = requireScope(principal, "write");
        const doc = oneDocument(body, request.headers.get("content-type"));
        return answer(patchJob(db, p.tenantId, params.namespace, params.name, doc, ctx.now()), set);
      },
      { params: jobRef, body: jobBody, detail: { summary: "Change some fields of a job" } },
    )
    .delete(
      "/jobs/:namespace/:name",
      ({ principal, params, set }) => {
        deleteJob(db, requireScope(principal, "write").tenantId, params.namespace, params.name);
        set.status = 204;
      },
      { params: jobRef, detail: { summary: "Delete a job" } },
    )
    .post(
      "/jobs/:namespace/:name/pause",
      ({ principal, params }) =>
        show(pauseJob(db, requireScope(principal, "write").tenantId, params.namespace, params.name, ctx.now())),
      { params: jobRef, detail: { summary: "Pause a job: check-ins are kept, nothing alerts" } },
    )
    .post(
      "/jobs/:namespace/:name/resume",
      ({ principal, params }) =>
        show(resumeJob(db, requireScope(principal, "write").tenantId, params.namespace, params.name, ctx.now())),
      { params: jobRef, detail: { summary: "Resume a paused job" } },
    );
}
