import { t } from "elysia";
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

export function channelsApi(ctx: AppContext) {
  const { db } = ctx;
  const deps = { secrets: ctx.secrets, allowPrivateTargets: ctx.config.allowPrivateTargets };
  return apiGroup(ctx, "/channels", "channels")
    .get("/", ({ principal }) => ({ channels: listChannels(db, requireScope(principal, "read").tenantId).map(channelJson) }), {
      detail: { summary: "Alert channels, secrets masked" },
    })
    .post(
      "/",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "write");
        set.status = 201;
        return channelJson(createChannel(db, deps, p.tenantId, body, ctx.now()));
      },
      { body: channelBody, detail: { summary: "Create an alert channel (409 if the name is taken)" } },
    )
    .get("/:id", ({ principal, params }) => channelJson(getChannel(db, requireScope(principal, "read").tenantId, params.id)), {
      params: byId,
      detail: { summary: "One channel, secrets masked" },
    })
    .put(
      "/:id",
      ({ principal, params, body }) => channelJson(updateChannel(db, deps, requireScope(principal, "write").tenantId, params.id, body, ctx.now())),
      {
        params: byId,
        body: channelBody,
        detail: { summary: "Replace a channel's name, type and config (masked values sent back keep the stored secrets)" },
      },
    )
    .delete(
      "/:id",
      ({ principal, params, set }) => {
        deleteChannel(db, requireScope(principal, "write").tenantId, params.id);
        set.status = 204;
      },
      { params: byId, detail: { summary: "Delete a channel and its delivery history" } },
    )
    .post(
      "/:id/test",
      async ({ principal, params }) => {
        const p = requireScope(principal, "write");
        const { smtpUrl, smtpFrom, allowPrivateTargets } = ctx.config;
        const r = await sendTest(db, ctx.secrets, p.tenantId, params.id, { smtpUrl, smtpFrom, allowPrivateTargets }, ctx.now());
        return { ok: r.ok, ...(r.code !== undefined ? { code: r.code } : {}), ...(r.error !== undefined ? { error: r.error } : {}) };
      },
      { params: byId, detail: { summary: "Send a test message now; 200 with ok:false when the receiver failed" } },
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
        detail: { summary: "Recent notifications to this channel, newest first" },
      },
    );
}
