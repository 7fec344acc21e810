// The alert channels in the console, /settings/channels: every member reads the list (secrets
// masked, as GET /api/v1/channels shows it); adding, editing, testing and removing need the write
// scope, as the API's do, and go through the same service functions (createChannel, updateChannel,
// deleteChannel, and sendTest for the test, which the API's /test calls too).
import type { AppContext } from "../context";
import { Conflict, Invalid } from "../errors";
import { requireScope, type Principal } from "../auth/principal";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { createChannel, deleteChannel, getChannel, listChannels, updateChannel, type Channel } from "./channels";
import { sendTest } from "./outbox";
import { CHANNEL_TYPES, type ChannelConfig, type ChannelType } from "./senders";
import {
  ChannelFormPage,
  ChannelsPage,
  ChannelTestPage,
  ChannelTestResult,
  EMPTY_CHANNEL_VALUES,
  RemoveChannelPage,
  type ChannelForm,
  type ChannelFormValues,
} from "../../views/channels";
import type { Shell } from "../../views/shell";

const canWrite = (viewer: Principal | null) => !!viewer?.scopes.includes("write");

/** The type a form is for: the tab asked for, else the channel's own, else webhook. */
function typeOf(raw: unknown, fallback: ChannelType): ChannelType {
  return typeof raw === "string" && (CHANNEL_TYPES as readonly string[]).includes(raw) ? (raw as ChannelType) : fallback;
}

/** A stored channel's config as the form shows it: masked, as every read shows it; secrets left out. */
function valuesOf(c: Channel): ChannelFormValues {
  const cfg = c.config;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    ...EMPTY_CHANNEL_VALUES,
    name: c.name,
    url: str(cfg.url),
    headers: Object.entries((cfg.headers as Record<string, string> | undefined) ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n"),
    to: Array.isArray(cfg.to) ? cfg.to.join(", ") : "",
    severity: str(cfg.severity),
    priority: str(cfg.priority),
  };
}

function valuesFrom(body: unknown): ChannelFormValues {
  const get = (name: keyof ChannelFormValues) => field(body, name).trim();
  return {
    name: get("name"),
    url: get("url"),
    secret: field(body, "secret"),
    clear_secret: get("clear_secret") === "on",
    headers: field(body, "headers"),
    to: field(body, "to"),
    routing_key: get("routing_key"),
    severity: get("severity"),
    token: field(body, "token"),
    clear_token: get("clear_token") === "on",
    priority: get("priority"),
  };
}

/** `Name: value` lines as a map of headers. */
function headersOf(text: string): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Invalid("headers", `line ${i + 1} ("${line.slice(0, 40)}"): write each header as Name: value`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return Object.keys(headers).length ? headers : undefined;
}

/**
 * The config the form stands for, in the API's shape. A secret left empty keeps the stored one: the
 * form sends back the masked value every read shows, which the service replaces with the stored
 * secret (as an API client's GET, edit, PUT does). `kept` is the stored channel's masked config
 * when the form is for its own type.
 */
function configOf(type: ChannelType, v: ChannelFormValues, kept: ChannelConfig | null): Record<string, unknown> {
  const keep = (typed: string, name: string, clear = false) => (typed ? typed : clear ? undefined : (kept?.[name] as string | undefined));
  const optional = (s: string) => s || undefined;
  switch (type) {
    case "webhook":
      return { url: v.url, secret: keep(v.secret, "secret", v.clear_secret), headers: headersOf(v.headers) };
    case "slack":
    case "discord":
    case "teams":
      return { url: v.url };
    case "email": {
      const to = v.to
        .split(/[,\n]/)
        .map((a) => a.trim())
        .filter(Boolean);
      return { to: to.length ? to : undefined };
    }
    case "pagerduty":
      return { routing_key: keep(v.routing_key, "routing_key"), severity: optional(v.severity), url: optional(v.url) };
    case "ntfy":
      return { url: v.url, token: keep(v.token, "token", v.clear_token), priority: optional(v.priority) };
  }
}

const dropUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A service's error as the form shows it: under its field (config.url under URL), or above the form. */
function formErrorsOf(e: unknown): { errors: Record<string, string>; alert?: string } | null {
  if (e instanceof Conflict) return { errors: { name: "A channel of this name exists already: choose another name." } };
  const byField = fieldErrors(e);
  if (!byField) return null;
  const errors: Record<string, string> = {};
  let alert: string | undefined;
  for (const [path, message] of Object.entries(byField)) {
    const [first, second, ...rest] = path.split(".");
    const name = first === "config" ? second : first;
    if (name && ["name", "url", "secret", "headers", "to", "routing_key", "severity", "token", "priority"].includes(name)) {
      // A header's own error names it: "X-Key: is not a valid header name."
      errors[name] ??= rest.length ? `${rest.join(".")}: ${message.charAt(0).toLowerCase()}${message.slice(1)}` : message;
    } else alert ??= `${path}: ${message}`;
  }
  return { errors, alert };
}

export function channelsConsole(ctx: AppContext) {
  const { db } = ctx;
  const deps = { secrets: ctx.secrets, allowPrivateTargets: ctx.config.allowPrivateTargets };
  const formPage = (shell: Shell, form: ChannelForm, status = 200) => page(ChannelFormPage({ shell, form }), status);

  return (
    consoleGroup(ctx, "tenant")
      .get("/settings/channels", ({ viewer, shell }) => {
        const tenantId = requireScope(viewer, "read").tenantId;
        return page(ChannelsPage({ shell, channels: listChannels(db, tenantId), canWrite: canWrite(viewer) }));
      })

      // Add.
      .get("/settings/channels/new", ({ query, viewer, shell }) => {
        requireScope(viewer, "write");
        const type = typeOf((query as Record<string, unknown>).type, "webhook");
        return formPage(shell, { channel: null, type, values: EMPTY_CHANNEL_VALUES, errors: {} });
      })
      .post("/settings/channels/new", ({ body, request, viewer, shell, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const type = typeOf(field(body, "type"), "webhook");
        const values = valuesFrom(body);
        try {
          const channel = createChannel(db, deps, tenantId, { name: values.name, type, config: dropUndefined(configOf(type, values, null)) }, ctx.now());
          flash(ctx, set, { kind: "ok", text: `Added channel ${channel.name}. Send it a test message to check that it arrives.` });
          return hxRedirect(request, "/settings/channels");
        } catch (e) {
          const shown = formErrorsOf(e);
          if (!shown) throw e;
          return formPage(shell, { channel: null, type, values: { ...values, secret: "", token: "", routing_key: "" }, ...shown }, 422);
        }
      })

      // Edit.
      .get("/settings/channels/:id/edit", ({ params, query, viewer, shell }) => {
        const channel = getChannel(db, requireScope(viewer, "write").tenantId, params.id);
        const type = typeOf((query as Record<string, unknown>).type, channel.type);
        const values = type === channel.type ? valuesOf(channel) : { ...EMPTY_CHANNEL_VALUES, name: channel.name };
        return formPage(shell, { channel, type, values, errors: {} });
      })
      .post("/settings/channels/:id/edit", ({ params, body, request, viewer, shell, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const channel = getChannel(db, tenantId, params.id);
        const type = typeOf(field(body, "type"), channel.type);
        const values = valuesFrom(body);
        try {
          const config = dropUndefined(configOf(type, values, type === channel.type ? channel.config : null));
          const saved = updateChannel(db, deps, tenantId, channel.id, { name: values.name, type, config }, ctx.now());
          flash(ctx, set, { kind: "ok", text: `Saved channel ${saved.name}.` });
          return hxRedirect(request, "/settings/channels");
        } catch (e) {
          const shown = formErrorsOf(e);
          if (!shown) throw e;
          return formPage(shell, { channel, type, values: { ...values, secret: "", token: "", routing_key: "" }, ...shown }, 422);
        }
      })

      // Test: the result in place for htmx, on a page of its own for a plain form post.
      .post("/settings/channels/:id/test", async ({ params, request, viewer, shell }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const channel = getChannel(db, tenantId, params.id);
        const { smtpUrl, smtpFrom, allowPrivateTargets } = ctx.config;
        const result = await sendTest(db, ctx.secrets, tenantId, channel.id, { smtpUrl, smtpFrom, allowPrivateTargets }, ctx.now());
        if (request.headers.get("hx-request") === "true") return page(ChannelTestResult({ channel, result }));
        return page(ChannelTestPage({ shell, channel, result }));
      })

      // Remove, after a page that asks.
      .get("/settings/channels/:id/remove", ({ params, viewer, shell }) => {
        const channel = getChannel(db, requireScope(viewer, "write").tenantId, params.id);
        return page(RemoveChannelPage({ shell, channel }));
      })
      .post("/settings/channels/:id/remove", ({ params, request, viewer, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const channel = getChannel(db, tenantId, params.id);
        deleteChannel(db, tenantId, channel.id);
        flash(ctx, set, { kind: "ok", text: `Removed channel ${channel.name}.` });
        return hxRedirect(request, "/settings/channels");
      })
  );
}
