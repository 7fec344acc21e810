import { Elysia, t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { Unauthorized } from "../errors";
import { authenticate } from "../auth/authenticate";
import { requireScope } from "../auth/principal";
import { authenticateAgent } from "../agents/agents";
import { apiCheckin, type CheckinCredential } from "./checkins";
import { isoTime } from "../time";

/** The check-in API; who may record check-ins for which jobs is checkinTarget's rule (checkins.ts). */
export function checkinsApi(ctx: AppContext) {
  const { db } = ctx;

  /** The credential a check-in comes with: an agent token (cta_…), a job's check-in token, or an API token (ctp_…) or session. */
  async function credentialOf(request: Request): Promise<CheckinCredential> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (bearer?.startsWith("cta_")) {
      const agent = authenticateAgent(db, bearer);
      if (!agent) throw new Unauthorized("invalid or revoked agent token");
      return { tenantId: agent.tenant_id, source: `agent ${agent.name}` };
    }
    if (bearer && !bearer.startsWith("ctp_")) return { jobToken: bearer };
    const { principal } = await authenticate(ctx, request);
    const p = requireScope(principal, "write");
    return { tenantId: p.tenantId, source: `api (${p.email})` };
  }

  return new Elysia({ detail: { tags: ["checkins"] } }).post(
    "/checkins",
    async ({ request, body }) => {
      const now = ctx.now();
      const event = apiCheckin(db, await credentialOf(request), body, ctx.config.pingBodyLimit, now);
      // Answered only once the check-in is committed.
      await ctx.checkins.append(event);
      return { ok: true, job_id: event.job_id, kind: event.kind, received_at: isoTime(event.received_at) };
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
        responses: responses(
          200,
          "Recorded, after its commit",
          t.Object({ ok: t.Boolean(), job_id: t.String(), kind: t.String(), received_at: t.String({ format: "date-time" }) }),
          [429],
        ),
      },
    },
  );
}

// The pings are Bun routes of their own (src/checkins/ping.ts), outside Elysia's router: their
// part of the API document is written here, beside the check-in API it mirrors.
const pingText = (description: string) => ({ description, content: { "text/plain": { schema: { type: "string" } } } });
const pingAnswers = {
  "200": {
    ...pingText("Recorded (`OK`), after its commit"),
    headers: {
      "Ping-Body-Limit": { description: "The most bytes of a body that are kept (head and tail of a larger one)", schema: { type: "integer" } },
    },
  },
  "400": pingText("An exit code outside 0–255, or an invalid `rid`"),
  "404": pingText("No such token, ping key or slug (`not found`)"),
  "429": pingText("Too many check-ins for this job, or too many unknown URLs from this address; see Retry-After"),
};
const pingParam = (name: string, description: string, schema: Record<string, unknown> = { type: "string" }) => ({ name, in: "path", required: true, description, schema });
const signal = pingParam("signal", "`start`, `fail`, `log` or an exit code 0–255 (0 is a success)", {
  anyOf: [{ type: "string", enum: ["start", "fail", "log"] }, { type: "integer", minimum: 0, maximum: 255 }],
});
const rid = { name: "rid", in: "query", required: false, description: "A UUID pairing a start with its finish", schema: { type: "string", format: "uuid" } };
const create = { name: "create", in: "query", required: false, description: "`1`: create the job if the tenant auto-provisions", schema: { type: "string", enum: ["1"] } };
const output = { required: false, content: { "text/plain": { schema: { type: "string", description: "The run's output; see Ping-Body-Limit" } } } };

function pingOperations(id: string, summary: string, description: string, parameters: unknown[], extra: Record<string, unknown> = {}) {
  const op = (method: string) => ({
    tags: ["pings"],
    summary,
    description,
    operationId: `${method}${id}`,
    security: [],
    parameters,
    responses: { ...pingAnswers, ...extra },
    ...(method === "post" ? { requestBody: output } : {}),
  });
  return { get: op("get"), post: op("post"), head: op("head") };
}

/** The ping endpoints, for the API document (GET, POST with the output as body, HEAD). */
export const pingPaths = {
  "/ping/{token}": pingOperations("Ping", "The run succeeded", "Healthchecks-compatible; see docs/checkins.md.", [pingParam("token", "The job's ping token (from `ping_url`)"), rid]),
  "/ping/{token}/{signal}": pingOperations(
    "PingSignal",
    "A run started, failed, logged or finished with an exit code",
    "Also `/ping/{ping_key}/{slug}`: the success of the job named `slug` in the tenant with that ping key (add `?create=1` to auto-provision it).",
    [pingParam("token", "The job's ping token, or the tenant's ping key followed by a slug"), signal, rid, create],
    { "201": pingText("The job was created (`?create=1`) and its check-in recorded") },
  ),
  "/ping/{ping_key}/{slug}/{signal}": pingOperations(
    "PingSlugSignal",
    "A signal for the job named by a slug, in the tenant with this ping key",
    "See docs/checkins.md, \"Ping keys and slugs\".",
    [pingParam("ping_key", "The tenant's `ping_key`"), pingParam("slug", "The job's name in namespace default"), signal, rid, create],
    { "201": pingText("The job was created (`?create=1`) and its check-in recorded") },
  ),
};
