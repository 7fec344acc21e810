import { t } from "elysia";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { checkinEvent, findCheckinJob } from "./checkins";

export function checkinsApi(ctx: AppContext) {
  return apiGroup(ctx, "", "checkins").post(
    "/checkins",
    async ({ principal, body }) => {
      const p = requireScope(principal, "write");
      const now = ctx.now();
      const target = findCheckinJob(ctx.db, p.tenantId, body.job);
      const event = checkinEvent(target, body, `api (${p.email})`, ctx.config.pingBodyLimit, now);
      // Answered only once the check-in is committed.
      await ctx.checkins.append(event);
      return { ok: true, job_id: target.id, kind: event.kind, received_at: new Date(event.received_at).toISOString() };
    },
    {
      body: t.Object({
        job: t.String({ minLength: 1, description: "namespace/name, name (default namespace) or job id" }),
        kind: t.Union([t.Literal("start"), t.Literal("success"), t.Literal("fail"), t.Literal("log")]),
        exit_code: t.Optional(t.Integer({ minimum: 0, maximum: 255 })),
        duration_ms: t.Optional(t.Integer({ minimum: 0 })),
        output: t.Optional(t.String()),
        run_id: t.Optional(t.String({ description: "UUID pairing a start with its finish" })),
        started_at: t.Optional(t.Union([t.String(), t.Integer()])),
        at: t.Optional(t.Union([t.String(), t.Integer()], { description: "when it happened, for late delivery" })),
      }),
      detail: { summary: "Record a check-in (start, success, fail, log) for a job" },
    },
  );
}
