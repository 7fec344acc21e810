import { t, type TSchema } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { channelJson, createChannel, deleteChannel, getChannel, listChannels, updateChannel } from "./channels";
import { listDeliveries, sendTest } from "./outbox";
import { CHANNEL_TYPES } from "./senders";

const channelBody = t.Object({
  name: t.String({ description: "Unique in the tenant; jobs name their channels with it" }),
  type: t.String({ description: `One of ${CHANNEL_TYPES.join(", ")}` }),
  config: t.Record(t.String(), t.Unknown(), { description: "Depends on the type; see docs/alerts.md" }),
});
const byId = t.Object({ id: t.String() });

const orNull = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const Time = t.String({ format: "date-time" });
const ChannelSchema = t.Object({
  id: t.String(),
  name: t.String(),
  type: t.String(),
  config: t.Record(t.String(), t.Unknown(), { description: "secrets masked" }),
  created_at: Time,
  updated_at: Time,
});
const TestSchema = t.Object({ ok: t.Boolean(), code: t.Optional(t.Integer({ description: "the receiver's HTTP status" })), error: t.Optional(t.String()) });
const DeliverySchema = t.Object({
  id: t.Integer(),
  event: t.String(),
  job_id: orNull(t.String()),
  status: t.String({ description: "pending, sent or failed" }),
  attempts: t.Integer(),
  response_code: orNull(t.Integer()),
  last_error: orNull(t.String()),
  next_attempt_at: orNull(Time),
  created_at: Time,
  sent_at: orNull(Time),
});

export function channelsApi(ctx: AppContext) {
  const { db } = ctx;
  const deps = { secrets: ctx.secrets, allowPrivateTargets: ctx.config.allowPrivateTargets };
  return apiGroup(ctx, "/channels", "channels")
    .get("", ({ principal }) => ({ channels: listChannels(db, requireScope(principal, "read").tenantId).map(channelJson) }), {
      detail: { summary: "Alert channels, secrets masked", responses: responses(200, "The channels", t.Object({ channels: t.Array(ChannelSchema) })) },
    })
    .post(
      "",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "write");
        set.status = 201;
        return channelJson(createChannel(db, deps, p.tenantId, body, ctx.now()));
      },
      { body: channelBody, detail: { summary: "Create an alert channel (409 if the name is taken)", responses: responses(201, "The channel", ChannelSchema, [409]) } },
    )
    .get("/:id", ({ principal, params }) => channelJson(getChannel(db, requireScope(principal, "read").tenantId, params.id)), {
      params: byId,
      detail: { summary: "One channel, secrets masked", responses: responses(200, "The channel", ChannelSchema) },
    })
    .put(
      "/:id",
      ({ principal, params, body }) => channelJson(updateChannel(db, deps, requireScope(principal, "write").tenantId, params.id, body, ctx.now())),
      {
        params: byId,
        body: channelBody,
        detail: { summary: "Replace a channel's name, type and config (masked values sent back keep the stored secrets)", responses: responses(200, "The channel", ChannelSchema, [409]) },
      },
    )
    .delete(
      "/:id",
      ({ principal, params, set }) => {
        deleteChannel(db, requireScope(principal, "write").tenantId, params.id);
        set.status = 204;
      },
      { params: byId, detail: { summary: "Delete a channel and its delivery history", responses: responses(204, "Deleted", null) } },
    )
    .post(
      "/:id/test",
      async ({ principal, params }) => {
        const p = requireScope(principal, "write");
        const { smtpUrl, smtpFrom, allowPrivateTargets } = ctx.config;
        const r = await sendTest(db, ctx.secrets, p.tenantId, params.id, { smtpUrl, smtpFrom, allowPrivateTargets }, ctx.now());
        return { ok: r.ok, ...(r.code !== undefined ? { code: r.code } : {}), ...(r.error !== undefined ? { error: r.error } : {}) };
      },
      { params: byId, detail: { summary: "Send a test message now; 200 with ok:false when the receiver failed", responses: responses(200, "What the receiver said", TestSchema) } },
    )
    .get(
      "/:id/deliveries",
      ({ principal, params, query }) => {
        const tenantId = requireScope(principal, "read").tenantId;
        getChannel(db, tenantId, params.id);
        return { deliveries: listDeliveries(db, tenantId, params.id, query.limit) };
      },
      {
        params: byId,
        query: t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50 })) }),
        detail: { summary: "Recent notifications to this channel, newest first", responses: responses(200, "The deliveries", t.Object({ deliveries: t.Array(DeliverySchema) })) },
      },
    );
}
