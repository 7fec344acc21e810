// REST surface of agents: enrollment tokens and the management API (users' tokens and
// sessions), and the agent protocol under /api/v1/agent/… (the agent's cta_ token).
import { Elysia, t, type TSchema } from "elysia";
import { OkSchema, responses } from "../openapi";
import { JobSchema } from "../jobs/api";
import type { AppContext } from "../context";
import { Unauthorized } from "../errors";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { RateLimiter } from "../ratelimit";
import { jobJson } from "../jobs/json";
import { getTenantSettings } from "../tenants/tenants";
import { clientIp } from "../clientip";
import { AGENT_STATUSES, INSTANCE_STATES, type Agent, type AgentStatus } from "./model";
import { authenticateAgent } from "./crosstenant";
import { deleteAgent, listAgents, patchAgent } from "./registry";
import { createEnrollmentToken, enroll, listEnrollmentTokens, revokeEnrollmentToken } from "./enrollment";
import { desiredState } from "./desired";
import { heartbeat } from "./liveness";
import { report } from "./reports";
import { agentDetail, jobAgents } from "./detail";
import { adoptEntry } from "./adoption";
import { agentDetailJson, agentJson, enrollmentTokenJson, jobAgentJson } from "./json";

// Checked by the service (readLabels), as job labels are: a schema of Record lets Elysia turn a
// string such as "abc" into {"0": "a", …} before anything sees it.
const labelsSchema = t.Unknown({
  type: "object",
  additionalProperties: { type: "string", maxLength: 253 },
  maxProperties: 64,
  description: "key=value labels; jobs select agents by them",
}) as unknown as ReturnType<typeof t.Record<ReturnType<typeof t.String>, ReturnType<typeof t.String>>>;

const orNull = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const Time = t.String({ format: "date-time" });
const Loose = t.Object({}, { additionalProperties: true });
const EnrollmentTokenSchema = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: t.String(),
  labels: t.Record(t.String(), t.String()),
  max_uses: orNull(t.Integer()),
  uses: t.Integer(),
  expires_at: orNull(Time),
  usable: t.Boolean(),
  created_at: Time,
  last_used_at: orNull(Time),
});
const AgentFields = {
  id: t.String(),
  name: t.String(),
  hostname: t.String(),
  machine_id: t.String(),
  platform: t.String(),
  arch: t.String(),
  os_version: orNull(t.String()),
  scheduler: t.String(),
  version: orNull(t.String()),
  labels: t.Record(t.String(), t.String()),
  status: t.String({ description: "online or offline" }),
  status_since: orNull(Time),
  interval_s: t.Integer(),
  last_seen_at: orNull(Time),
  last_sync_at: orNull(Time),
  desired_etag: orNull(t.String()),
  created_at: Time,
  updated_at: Time,
};
const AgentSchema = t.Object(AgentFields);
const AgentDetailSchema = t.Object({
  ...AgentFields,
  jobs: t.Array(Loose, { description: "the job instances on this host and their reported state" }),
  discovered: t.Array(Loose, { description: "unmanaged crontab entries found on the host" }),
});
const EnrolledSchema = t.Object({ agent: AgentSchema, token: t.String({ description: "cta_…, shown once" }), server: t.String() });

/** The agent behind `Authorization: Bearer cta_…`; 401 for anything else. */
export function requireAgent(ctx: AppContext, request: Request): Agent {
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
  const agent = m ? authenticateAgent(ctx.db, m[1]!) : null;
  if (!agent) throw new Unauthorized("invalid or revoked agent token: enroll again (crontopus agent enroll)");
  return agent;
}

export function agentsApi(ctx: AppContext) {
  const { db } = ctx;
  // Enrollment is open to anyone holding a token: a guess costs them a slot here.
  const enrollLimit = new RateLimiter(30, 60_000, "too many enrollment attempts; wait a minute");

  const management = apiGroup(ctx, "", "agents")
    .get("/enrollment-tokens", ({ principal }) => ({ enrollment_tokens: listEnrollmentTokens(db, requireScope(principal, "admin").tenantId, ctx.now()).map(enrollmentTokenJson) }), {
      detail: { summary: "Enrollment tokens (the secrets are never shown again)", responses: responses(200, "The tokens", t.Object({ enrollment_tokens: t.Array(EnrollmentTokenSchema) })) },
    })
    .post(
      "/enrollment-tokens",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "admin");
        set.status = 201;
        const { token, enrollment_token } = createEnrollmentToken(db, p.tenantId, p.userId, body, ctx.now());
        return { token, enrollment_token: enrollmentTokenJson(enrollment_token) };
      },
      {
        body: t.Object({
          name: t.String({ description: "What it is for, e.g. 'web servers'" }),
          labels: t.Optional(labelsSchema),
          max_uses: t.Optional(t.Integer({ minimum: 1, description: "Enrollments it allows; unlimited when left out" })),
          expires_in_days: t.Optional(t.Number({ description: "1 to 3650; never expires when left out" })),
        }),
        detail: {
          summary: "Create an enrollment token (cte_…, shown once)",
          responses: responses(201, "The token, with its secret", t.Object({ token: t.String(), enrollment_token: EnrollmentTokenSchema })),
        },
      },
    )
    .delete(
      "/enrollment-tokens/:id",
      ({ principal, params, set }) => {
        revokeEnrollmentToken(db, requireScope(principal, "admin").tenantId, params.id);
        set.status = 204;
      },
      { params: t.Object({ id: t.String() }), detail: { summary: "Revoke an enrollment token (enrolled agents keep working)", responses: responses(204, "Revoked", null) } },
    )
    .get(
      "/agents",
      ({ principal, query }) => ({ agents: listAgents(db, requireScope(principal, "read").tenantId, { status: query.status as AgentStatus | undefined }).map(agentJson) }),
      {
        query: t.Object({ status: t.Optional(t.Union(AGENT_STATUSES.map((s) => t.Literal(s)))) }),
        detail: { summary: "Enrolled agents", responses: responses(200, "The agents", t.Object({ agents: t.Array(AgentSchema) })) },
      },
    )
    .get("/agents/:id", ({ principal, params }) => agentDetailJson(agentDetail(db, requireScope(principal, "read").tenantId, params.id)), {
      params: t.Object({ id: t.String({ description: "agent id or name" }) }),
      detail: { summary: "One agent, with its job instances and the unmanaged entries found on its host", responses: responses(200, "The agent", AgentDetailSchema) },
    })
    .patch(
      "/agents/:id",
      ({ principal, params, body }) => {
        const p = requireScope(principal, "write");
        const agent = patchAgent(db, p.tenantId, params.id, body, ctx.now());
        return agentDetailJson(agentDetail(db, p.tenantId, agent.id));
      },
      {
        params: t.Object({ id: t.String() }),
        body: t.Object({
          name: t.Optional(t.String()),
          labels: t.Optional(labelsSchema),
          interval_s: t.Optional(t.Integer({ minimum: 1, maximum: 86400, description: "heartbeat interval; offline after three missed" })),
        }),
        detail: { summary: "Rename an agent, replace its labels or change its heartbeat interval", responses: responses(200, "The agent", AgentDetailSchema, [409]) },
      },
    )
    .delete(
      "/agents/:id",
      ({ principal, params, set }) => {
        deleteAgent(db, requireScope(principal, "admin").tenantId, params.id);
        set.status = 204;
      },
      {
        params: t.Object({ id: t.String() }),
        detail: { summary: "Forget an agent and revoke its token (its host keeps its entries until `agent uninstall`)", responses: responses(204, "Forgotten", null) },
      },
    )
    .post(
      "/agents/:id/discovered/:entryId/adopt",
      ({ principal, params, body, set }) => {
        const p = requireScope(principal, "write");
        const now = ctx.now();
        const { job, warnings } = adoptEntry(db, p.tenantId, params.id, params.entryId, body, now);
        set.status = 201;
        return { ...jobJson(job, ctx.config.baseUrl, now, getTenantSettings(db, p.tenantId).badge_key), warnings };
      },
      {
        params: t.Object({ id: t.String(), entryId: t.String() }),
        body: t.Object({
          namespace: t.Optional(t.String({ description: "default when left out" })),
          name: t.String(),
          timezone: t.Optional(t.String({ description: "the zone the host's cron reads the line in; UTC when left out" })),
        }),
        detail: {
          summary: "Turn a discovered crontab line into a managed job; the agent swaps the line on its next pass",
          responses: responses(201, "The new job, with warnings", t.Composite([JobSchema, t.Object({ warnings: t.Array(t.String()) })]), [409]),
        },
      },
    )
    .get(
      "/jobs/:namespace/:name/agents",
      ({ principal, params }) => ({ agents: jobAgents(db, requireScope(principal, "read").tenantId, params.namespace, params.name).map(jobAgentJson) }),
      {
        params: t.Object({ namespace: t.String(), name: t.String() }),
        detail: { summary: "The agents a job goes to, and the state each reported", responses: responses(200, "The agents", t.Object({ agents: t.Array(Loose) })) },
      },
    );

  const protocol = new Elysia({ prefix: "/agent", detail: { tags: ["agent protocol"] } })
    .post(
      "/enroll",
      ({ body, set, request, server }) => {
        enrollLimit.hit(clientIp(server, request, ctx.config.trustProxy), ctx.now());
        const { agent, token, created } = enroll(db, body, ctx.config.agentInterval, ctx.now());
        set.status = created ? 201 : 200;
        return { agent: agentJson(agent), token, server: ctx.config.baseUrl };
      },
      {
        body: t.Object({
          token: t.String({ description: "the enrollment token (cte_…)" }),
          hostname: t.String(),
          name: t.Optional(t.String({ description: "unique in the tenant; the hostname's first label by default" })),
          platform: t.String({ description: "linux, darwin or windows" }),
          arch: t.String(),
          os_version: t.Optional(t.String()),
          scheduler: t.String({ description: "crontab or schtasks" }),
          version: t.Optional(t.String({ description: "agent version" })),
          machine_id: t.String({ description: "/etc/machine-id, IOPlatformUUID or MachineGuid" }),
          labels: t.Optional(labelsSchema),
        }),
        detail: {
          summary: "Enroll a host with an enrollment token; returns the agent token (cta_…, shown once)",
          security: [],
          responses: {
            ...responses(200, "Enrolled again (same machine)", EnrolledSchema, [401, 429]),
            ...responses(201, "Enrolled", EnrolledSchema),
          },
        },
      },
    )
    .post(
      "/heartbeat",
      ({ request, body }) => {
        const agent = requireAgent(ctx, request);
        const r = heartbeat(db, agent, body ?? {}, ctx.config.baseUrl, ctx.now());
        if (r.notifications) ctx.kick();
        const { etag } = desiredState(db, r.agent);
        return { ok: true, agent: agentJson(r.agent), interval_s: r.agent.interval_s, desired_etag: etag };
      },
      {
        body: t.Optional(
          t.Object({ version: t.Optional(t.String()), hostname: t.Optional(t.String()), os_version: t.Optional(t.String()) }, { additionalProperties: true }),
        ),
        detail: {
          summary: "I am alive; returns the heartbeat interval and the ETag of the desired state",
          responses: responses(200, "Seen", t.Object({ ok: t.Boolean(), agent: AgentSchema, interval_s: t.Integer(), desired_etag: t.String() })),
        },
      },
    )
    .get(
      "/desired-state",
      ({ request, set }) => {
        const agent = requireAgent(ctx, request);
        const { etag, state } = desiredState(db, agent);
        set.headers.etag = etag;
        set.headers["cache-control"] = "no-cache";
        const inm = request.headers.get("if-none-match");
        if (inm && inm.split(",").some((v) => v.trim() === etag || v.trim() === `W/${etag}`)) {
          set.status = 304;
          return "";
        }
        return state;
      },
      {
        detail: {
          summary: "The jobs for this host (ETag; If-None-Match gives 304)",
          responses: {
            ...responses(200, "The desired state", t.Object({ agent: Loose, jobs: t.Array(Loose) })),
            304: { description: "Unchanged since the ETag given in If-None-Match" },
          },
        },
      },
    )
    .post(
      "/report",
      ({ request, body }) => {
        const agent = requireAgent(ctx, request);
        const r = report(db, agent, body, ctx.config.baseUrl, ctx.now());
        if (r.notifications) ctx.kick();
        return { ok: true };
      },
      {
        body: t.Object({
          etag: t.Optional(t.String({ description: "the desired state this report applied" })),
          jobs: t.Array(
            t.Object({
              job_id: t.String(),
              state: t.Union(INSTANCE_STATES.map((s) => t.Literal(s))),
              message: t.Optional(t.String()),
            }),
          ),
          discovered: t.Optional(
            t.Array(
              t.Object({
                id: t.String(),
                user: t.Optional(t.Union([t.String(), t.Null()])),
                schedule: t.String(),
                command: t.String(),
                line: t.String(),
              }),
              { description: "the host's unmanaged entries; the whole list each time" },
            ),
          ),
        }),
        detail: { summary: "What the agent applied: per job applied, drifted or error; plus the host's unmanaged entries", responses: responses(200, "Taken", OkSchema) },
      },
    );

  return new Elysia().use(management).use(protocol);
}
