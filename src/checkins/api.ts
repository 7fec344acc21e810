import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { Forbidden, NotFound, Unauthorized } from "../errors";
import { authenticate } from "../auth/authenticate";
import { requireScope } from "../auth/principal";
import { authenticateAgent } from "../agents/agents";
import { checkinEvent, findCheckinJob, tenantRetentionDays, type PingTarget } from "./checkins";
import { isoTime } from "../time";

/**
 * Who may record check-ins, and for which jobs:
 * - an API token with `write` (or a session): any job of its tenant;
 * - an agent token (cta_…): any job of the agent's tenant;
 * - a job's own check-in token (its ping token, as `Bearer <token>`): that one job. `exec`
 *   running as another user than the agent reports with it: it can do nothing else.
 */
export function checkinsApi(ctx: AppContext) {
  const { db } = ctx;
  const jobByToken = db.query<PingTarget & { namespace: string; name: string }, [string]>(
    "SELECT id, tenant_id, last_checkin_id, namespace, name FROM jobs WHERE ping_token = ?",
  );

  async function resolveTarget(request: Request, ref: string): Promise<{ target: PingTarget; source: string }> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (bearer?.startsWith("cta_")) {
      const agent = authenticateAgent(db, bearer);
      if (!agent) throw new Unauthorized("invalid or revoked agent token");
      return { target: findCheckinJob(db, agent.tenant_id, ref), source: `agent ${agent.name}` };
    }
    if (bearer && !bearer.startsWith("ctp_")) {
      const job = jobByToken.get(bearer);
      if (!job) throw new Unauthorized("invalid token");
      if (ref !== job.id && ref !== `${job.namespace}/${job.name}` && !(job.namespace === "default" && ref === job.name)) {
        throw new Forbidden("a job's check-in token records check-ins for that job only");
      }
      return { target: job, source: "job token" };
    }
    const { principal } = await authenticate(ctx, request);
    const p = requireScope(principal, "write");
    return { target: findCheckinJob(db, p.tenantId, ref), source: `api (${p.email})` };
  }

  return new Elysia({ detail: { tags: ["checkins"] } }).post(
    "/checkins",
    async ({ request, body }) => {
      const now = ctx.now();
      const { target, source } = await resolveTarget(request, body.job).catch((e) => {
        // Never say whether a job exists to a caller who may not see it.
        if (e instanceof NotFound) throw new NotFound(`job ${body.job}`);
        throw e;
      });
      const event = checkinEvent(target, body, body.host ? `${source} on ${body.host}` : source, ctx.config.pingBodyLimit, now, tenantRetentionDays(db, target.tenant_id));
      // Answered only once the check-in is committed.
      await ctx.checkins.append(event);
      return { ok: true, job_id: target.id, kind: event.kind, received_at: isoTime(event.received_at) };
    },
    {
      body: t.Object({
        job: t.String({ minLength: 1, maxLength: 128, description: "namespace/name, name (default namespace) or job id" }),
        kind: t.Union([t.Literal("start"), t.Literal("success"), t.Literal("fail"), t.Literal("log")]),
        exit_code: t.Optional(t.Integer({ minimum: 0, maximum: 255 })),
        duration_ms: t.Optional(t.Integer({ minimum: 0, description: "at most 31 days" })),
        output: t.Optional(t.String({ description: "kept up to the ping body limit (head and tail when longer)" })),
        run_id: t.Optional(t.String({ maxLength: 36, description: "UUID pairing a start with its finish" })),
        started_at: t.Optional(t.Union([t.String(), t.Integer()], { description: "within the tenant's retention, at most 5 minutes ahead" })),
        at: t.Optional(t.Union([t.String(), t.Integer()], { description: "when it happened, for late delivery; within the tenant's retention, at most 5 minutes ahead" })),
        host: t.Optional(t.String({ maxLength: 253, description: "the host the run happened on, shown as its source" })),
        timed_out: t.Optional(t.Boolean({ description: "with kind fail: the wrapper killed the command at the job's timeout" })),
      }),
      detail: {
        summary: "Record a check-in (start, success, fail, log) for a job",
        description: "Authenticated by an API token with write scope, an agent token (cta_…), or the job's own check-in token (its ping token).",
      },
    },
  );
}
