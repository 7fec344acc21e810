// Channel types: what each one's config must hold, how it is shown, and how a message reaches it.
// Senders never throw: every outcome, a timeout included, is a SendResult.
import { createHmac } from "node:crypto";
import nodemailer from "nodemailer";
import { Invalid } from "../errors";
import { checkTargetHost, guardedFetch, isAddressLiteral, resolveTarget, TargetRefused, type TargetPolicy } from "../net/guard";
import { VERSION } from "../version";
import { gitopsErrorLines, jobRef, linkOf, summary, text, type AlertMessage } from "./message";
import { checkCount, checkLength, LIMITS } from "../limits";

export const CHANNEL_TYPES = ["webhook", "slack", "discord", "teams", "email", "pagerduty", "ntfy"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export type ChannelConfig = Record<string, unknown>;

export interface SendResult {
  ok: boolean;
  /** The receiver's HTTP status (or SMTP reply code). */
  code?: number;
  /** The start of the receiver's answer. */
  body?: string;
  error?: string;
}

export interface SendOptions {
  smtpUrl: string | null;
  smtpFrom: string;
  timeoutMs?: number;
  /** CRONTOPUS_ALLOW_PRIVATE_TARGETS: let sends reach loopback, private and link-local addresses. */
  allowPrivateTargets?: boolean;
}

export interface ValidateOptions {
  /** CRONTOPUS_ALLOW_PRIVATE_TARGETS: accept literal internal addresses and localhost. */
  allowPrivateTargets?: boolean;
}

const policyOf = (o: { allowPrivateTargets?: boolean }): TargetPolicy => ({ allowPrivate: o.allowPrivateTargets === true });

export const DEFAULT_TIMEOUT_MS = 10_000;
export const RESPONSE_BODY_MAX = 2048;
export const PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue";
export const PAGERDUTY_SEVERITIES = ["critical", "error", "warning", "info"] as const;
export const NTFY_PRIORITIES = ["min", "low", "default", "high", "max", "urgent", "1", "2", "3", "4", "5"] as const;

const DISCORD_CONTENT_MAX = 2000;
const MASK = "********";

// ---------------------------------------------------------------------------------------------
// Validation: meaning checks, the same for the API, the console and manifests.

const FIELDS: Record<ChannelType, readonly string[]> = {
  webhook: ["url", "secret", "headers"],
  slack: ["url"],
  discord: ["url"],
  teams: ["url"],
  email: ["to"],
  pagerduty: ["routing_key", "url", "severity"],
  ntfy: ["url", "token", "priority"],
};

const EMAIL_RE = /^[^\s@,<>]+@[^\s@,<>]+$/;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function checkChannelType(type: string): ChannelType {
  if (!(CHANNEL_TYPES as readonly string[]).includes(type)) throw new Invalid("type", `must be one of ${CHANNEL_TYPES.join(", ")}`);
  return type as ChannelType;
}

function httpUrl(field: string, v: unknown, opts: ValidateOptions): string {
  if (typeof v !== "string" || v.trim() === "") throw new Invalid(field, "is required: an http(s) URL");
  checkLength(field, v, LIMITS.configValue);
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw new Invalid(field, `must be an http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Invalid(field, `must be an http(s) URL, got ${JSON.stringify(v)}`);
  // Names are checked when a message is sent: saving resolves nothing.
  const refusal = checkTargetHost(u.hostname.replace(/^\[|\]$/g, ""), policyOf(opts));
  if (refusal) throw new Invalid(field, `may not point inside this server's network: ${refusal}`);
  return v.trim();
}

function optString(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new Invalid(field, "must be a string");
  return checkLength(field, v, LIMITS.configValue);
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const s = typeof v === "number" ? String(v) : v;
  if (typeof s !== "string" || !(allowed as readonly string[]).includes(s)) throw new Invalid(field, `must be one of ${allowed.join(", ")}`);
  return s as T;
}

/** Checks a channel's type and config; returns the config with only the known fields. */
export function validateChannel(type: string, config: unknown, opts: ValidateOptions = {}): { type: ChannelType; config: ChannelConfig } {
  const t = checkChannelType(type);
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new Invalid("config", "must be an object");
  const c = config as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!FIELDS[t].includes(key)) throw new Invalid(`config.${key}`, `unknown field for a ${t} channel (expected ${FIELDS[t].join(", ")})`);
  }
  const out: ChannelConfig = {};
  const set = (k: string, v: unknown) => {
    if (v !== undefined) out[k] = v;
  };
  switch (t) {
    case "webhook": {
      set("url", httpUrl("config.url", c.url, opts));
      set("secret", optString("config.secret", c.secret));
      if (c.headers !== undefined && c.headers !== null) {
        if (typeof c.headers !== "object" || Array.isArray(c.headers)) throw new Invalid("config.headers", "must be an object of header names to values");
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(c.headers as Record<string, unknown>)) {
          if (!HEADER_NAME_RE.test(name)) throw new Invalid(`config.headers.${name}`, "is not a valid header name");
          if (typeof value !== "string" || /[\r\n\0]/.test(value)) throw new Invalid(`config.headers.${name}`, "must be a one-line string");
          checkLength(`config.headers.${name}`, value, LIMITS.configValue);
          headers[name] = value;
        }
        checkCount("config.headers", Object.keys(headers), LIMITS.mapEntries);
        if (Object.keys(headers).length) out.headers = headers;
      }
      break;
    }
    case "slack":
    case "discord":
    case "teams":
      set("url", httpUrl("config.url", c.url, opts));
      break;
    case "email": {
      const to = typeof c.to === "string" ? c.to.split(",") : c.to;
      if (!Array.isArray(to)) throw new Invalid("config.to", "is required: an address or a list of addresses");
      const addrs = to.map((a, i) => {
        if (typeof a !== "string" || !EMAIL_RE.test(a.trim())) throw new Invalid(`config.to`, `entry ${i + 1} is not an email address: ${JSON.stringify(a)}`);
        return a.trim();
      });
      if (addrs.length === 0) throw new Invalid("config.to", "needs at least one address");
      if (addrs.length > 50) throw new Invalid("config.to", "at most 50 addresses");
      out.to = addrs;
      break;
    }
    case "pagerduty": {
      const key = optString("config.routing_key", c.routing_key);
      if (!key) throw new Invalid("config.routing_key", "is required: the integration key of an Events API v2 integration");
      out.routing_key = key.trim();
      if (c.url !== undefined && c.url !== null && c.url !== "") out.url = httpUrl("config.url", c.url, opts);
      set("severity", oneOf("config.severity", c.severity, PAGERDUTY_SEVERITIES));
      break;
    }
    case "ntfy": {
      const url = httpUrl("config.url", c.url, opts);
      if (new URL(url).pathname.replace(/\/+$/, "") === "") throw new Invalid("config.url", "must be a topic URL, such as https://ntfy.sh/my-topic");
      out.url = url;
      set("token", optString("config.token", c.token));
      set("priority", oneOf("config.priority", c.priority, NTFY_PRIORITIES));
      break;
    }
  }
  return { type: t, config: out };
}

// ---------------------------------------------------------------------------------------------
// Masking: what GET answers show. Webhook paths of chat services are their credentials.

const SECRET_NAME_RE = /(auth|token|secret|key|sig|pass|cookie|session)/i;

function maskUrl(raw: string, opts: { path: boolean }): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return MASK;
  }
  if (u.password) u.password = "****";
  if (opts.path) return `${u.protocol}//${u.username ? `${u.username}${u.password ? ":****" : ""}@` : ""}${u.host}/****`;
  for (const [k] of [...u.searchParams]) {
    if (SECRET_NAME_RE.test(k)) u.searchParams.set(k, "****");
  }
  return u.toString();
}

/** The config with its secrets hidden, for GET answers. */
export function maskConfig(type: string, config: ChannelConfig): ChannelConfig {
  const out: ChannelConfig = { ...config };
  const url = typeof config.url === "string" ? config.url : null;
  switch (type) {
    case "webhook":
      if (url) out.url = maskUrl(url, { path: false });
      if (config.secret) out.secret = MASK;
      if (config.headers && typeof config.headers === "object") {
        out.headers = Object.fromEntries(
          Object.entries(config.headers as Record<string, string>).map(([k, v]) => [k, SECRET_NAME_RE.test(k) ? MASK : v]),
        );
      }
      break;
    case "slack":
    case "discord":
    case "teams":
    case "ntfy":
      // ntfy.sh says it outright: the topic name is the password.
      if (url) out.url = maskUrl(url, { path: true });
      if (config.token) out.token = MASK;
      break;
    case "pagerduty":
      if (config.routing_key) out.routing_key = MASK;
      if (url) out.url = maskUrl(url, { path: false });
      break;
    default:
      if (url) out.url = maskUrl(url, { path: true });
  }
  return out;
}

/**
 * A config sent back as GET showed it keeps the stored secrets: any value equal to its masked
 * form is replaced by the stored one, so a client may GET, edit one field and PUT the whole.
 */
export function unmaskConfig(type: string, incoming: unknown, stored: ChannelConfig): unknown {
  return restore(incoming, maskConfig(type, stored), stored);
}

function restore(incoming: unknown, masked: unknown, stored: unknown): unknown {
  if (incoming === masked && masked !== stored) return stored;
  if (isPlainObject(incoming) && isPlainObject(masked) && isPlainObject(stored)) {
    return Object.fromEntries(Object.entries(incoming).map(([k, v]) => [k, restore(v, masked[k], stored[k])]));
  }
  return incoming;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Sending.

type Sender = (config: ChannelConfig, m: AlertMessage, opts: SendOptions) => Promise<SendResult>;

/** Delivers one message to one channel. Never throws. */
export async function send(channel: { type: string; config: ChannelConfig }, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  const sender = Object.hasOwn(SENDERS, channel.type) ? SENDERS[channel.type] : undefined;
  if (!sender) return { ok: false, error: `unknown channel type ${JSON.stringify(channel.type)}` };
  try {
    return await sender(channel.config, m, opts);
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

/** `sha256=<hex>`: the HMAC-SHA256 of the exact request body, keyed with the channel's secret. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The generic webhook's JSON body: the message plus its summary line. */
export function webhookPayload(m: AlertMessage) {
  return { ...m, summary: summary(m) };
}

export function sendWebhook(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  const body = JSON.stringify(webhookPayload(m));
  // The channel's own headers first, so they cannot replace the body type, event or signature.
  const headers = new Headers((config.headers as Record<string, string> | undefined) ?? {});
  headers.set("content-type", "application/json");
  headers.set("x-crontopus-event", m.event);
  if (typeof config.secret === "string" && config.secret) headers.set("x-crontopus-signature", signBody(config.secret, body));
  return post(String(config.url), body, headers, opts);
}

/** Slack's mrkdwn needs only &, < and > escaped. */
const slackEscape = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

export function slackPayload(m: AlertMessage) {
  const details = detailLines(m).map(([k, v]) => `*${k}:* ${slackEscape(v)}`);
  const blocks: unknown[] = [
    { type: "section", text: { type: "mrkdwn", text: `*${slackEscape(summary(m))}*\n${details.join("\n")}` } },
  ];
  if (m.last_output) blocks.push({ type: "section", text: { type: "mrkdwn", text: "```" + slackEscape(m.last_output.slice(-2900)) + "```" } });
  const errors = gitopsErrorLines(m);
  if (errors.length) blocks.push({ type: "section", text: { type: "mrkdwn", text: "```" + slackEscape(errors.join("\n").slice(0, 2900)) + "```" } });
  const link = linkOf(m);
  if (link) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `<${link}|Open ${slackEscape(jobRef(m))} in Crontopus>` }] });
  return { text: summary(m), blocks };
}

export function sendSlack(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  return post(String(config.url), JSON.stringify(slackPayload(m)), { "content-type": "application/json" }, opts);
}

const COLORS = { red: 0xd93f0b, green: 0x2da44e, blue: 0x0969da } as const;
const colorOf = (m: AlertMessage) => (m.event === "test" ? COLORS.blue : m.event === "resolve" ? COLORS.green : COLORS.red);

export function discordPayload(m: AlertMessage) {
  const description = [
    ...detailLines(m).map(([k, v]) => `**${k}:** ${v}`),
    ...(m.last_output ? ["```", m.last_output.replaceAll("```", "'''").slice(-3500), "```"] : []),
    ...(m.gitops?.errors_total ? ["```", gitopsErrorLines(m).join("\n").replaceAll("```", "'''").slice(0, 3500), "```"] : []),
  ].join("\n");
  return {
    content: truncate(summary(m), DISCORD_CONTENT_MAX),
    embeds: [{ title: truncate(jobRef(m), 256), url: linkOf(m) ?? undefined, description, color: colorOf(m), timestamp: m.since }],
    // Job output must not be able to ping @everyone.
    allowed_mentions: { parse: [] },
  };
}

export function sendDiscord(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  return post(String(config.url), JSON.stringify(discordPayload(m)), { "content-type": "application/json" }, opts);
}

/** An Adaptive Card in a message envelope: what both Teams Workflows and legacy connectors accept. */
export function teamsPayload(m: AlertMessage) {
  const body: unknown[] = [
    { type: "TextBlock", text: summary(m), weight: "Bolder", size: "Medium", wrap: true, color: m.event === "resolve" ? "Good" : m.event === "test" ? "Accent" : "Attention" },
    { type: "FactSet", facts: detailLines(m).map(([title, value]) => ({ title, value })) },
  ];
  if (m.last_output) body.push({ type: "TextBlock", text: m.last_output, fontType: "Monospace", wrap: true, size: "Small" });
  const errors = gitopsErrorLines(m);
  if (errors.length) body.push({ type: "TextBlock", text: errors.join("\n\n"), fontType: "Monospace", wrap: true, size: "Small" });
  const link = linkOf(m);
  return {
    type: "message",
    summary: summary(m),
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          msteams: { width: "Full" },
          body,
          actions: link ? [{ type: "Action.OpenUrl", title: "Open in Crontopus", url: link }] : [],
        },
      },
    ],
  };
}

export function sendTeams(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  return post(String(config.url), JSON.stringify(teamsPayload(m)), { "content-type": "application/json" }, opts);
}

export function pagerDutyPayload(config: ChannelConfig, m: AlertMessage) {
  const severity = (config.severity as string | undefined) ?? (m.event === "test" ? "info" : m.status === "late" || m.event === "drift" ? "warning" : "critical");
  return {
    routing_key: String(config.routing_key),
    event_action: m.event === "resolve" ? "resolve" : "trigger",
    dedup_key: m.dedup_key,
    payload: {
      summary: truncate(summary(m), 1024),
      source: `crontopus/${m.tenant.slug}`,
      severity,
      timestamp: m.since,
      component: m.job ? jobRef(m) : m.gitops ? "gitops" : undefined,
      group: m.job?.namespace,
      class: m.status,
      custom_details: {
        tenant: m.tenant.slug,
        job: m.job ? jobRef(m) : null,
        status: m.status,
        previous_status: m.previous_status,
        reason: m.reason,
        since: m.since,
        last_output: m.last_output,
        ...(m.gitops ? { gitops: m.gitops } : {}),
      },
    },
    client: "Crontopus",
    client_url: m.job?.url ?? m.gitops?.url,
    links: linkOf(m) ? [{ href: linkOf(m)!, text: "Open in Crontopus" }] : [],
  };
}

export function sendPagerDuty(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  const url = (config.url as string | undefined) || PAGERDUTY_URL;
  return post(url, JSON.stringify(pagerDutyPayload(config, m)), { "content-type": "application/json" }, opts);
}

export function ntfyHeaders(config: ChannelConfig, m: AlertMessage): Record<string, string> {
  const priority = (config.priority as string | undefined) ?? (m.event === "trigger" || m.event === "renotify" ? "high" : "default");
  const tag = { trigger: "rotating_light", renotify: "rotating_light", resolve: "white_check_mark", drift: "warning", test: "test_tube" }[m.event];
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    title: headerValue(summary(m)),
    priority: String(priority),
    tags: [tag, "crontopus", m.status].map(headerValue).join(","),
  };
  const link = linkOf(m);
  if (link) headers.click = link;
  if (typeof config.token === "string" && config.token) headers.authorization = `Bearer ${config.token}`;
  return headers;
}

export function sendNtfy(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  return post(String(config.url), text(m), ntfyHeaders(config, m), opts);
}

export function sendEmail(config: ChannelConfig, m: AlertMessage, opts: SendOptions): Promise<SendResult> {
  return sendMail({ to: config.to as string[], subject: summary(m), text: text(m), event: m.event }, opts);
}

/** One plain-text message. `event` goes in the X-Crontopus-Event header, for mail filters. */
export interface Mail {
  to: string[];
  subject: string;
  text: string;
  event: string;
}

/**
 * Sends one message through the relay of CRONTOPUS_SMTP_URL, whose address is checked as any
 * channel target's is. The one way mail leaves the server: alert channels and invitations.
 */
export async function sendMail(mail: Mail, opts: SendOptions): Promise<SendResult> {
  if (!opts.smtpUrl) return { ok: false, error: "email is not configured on this server: set CRONTOPUS_SMTP_URL" };
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Resolved and checked for this send, and the session goes to the address checked; the TLS
  // server name stays the configured host.
  const relay = new URL(opts.smtpUrl);
  const host = relay.hostname.replace(/^\[|\]$/g, "");
  let address: string;
  try {
    [address] = (await resolveTarget(host, policyOf(opts))) as [string];
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
  relay.hostname = address.includes(":") ? `[${address}]` : address;
  const transport = nodemailer.createTransport({
    url: relay.toString(),
    ...(isAddressLiteral(host) ? {} : { servername: host }),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  } as object);
  try {
    const info = await transport.sendMail({
      from: opts.smtpFrom,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      headers: { "X-Crontopus-Event": mail.event },
    });
    const response = String(info.response ?? "");
    const code = Number(/^\d{3}/.exec(response)?.[0] ?? 250);
    return { ok: true, code, body: response.slice(0, RESPONSE_BODY_MAX) };
  } catch (e) {
    const code = (e as { responseCode?: number }).responseCode;
    return { ok: false, ...(code ? { code } : {}), error: errorText(e) };
  } finally {
    transport.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** POSTs with a timeout; 2xx is success; redirects are not followed (a 3xx is reported as is). */
async function post(rawUrl: string, body: string, headers: HeadersInit, opts: SendOptions): Promise<SendResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const url = new URL(rawUrl);
  const h = new Headers(headers);
  if (!h.has("user-agent")) h.set("user-agent", `Crontopus/${VERSION}`);
  // fetch refuses URLs with credentials: send them as Basic auth instead.
  if (url.username || url.password) {
    if (!h.has("authorization")) {
      const cred = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      h.set("authorization", `Basic ${Buffer.from(cred).toString("base64")}`);
    }
    url.username = "";
    url.password = "";
  }
  try {
    // The guard resolves and checks the host for this attempt, and never follows a redirect.
    const res = await guardedFetch(url, { method: "POST", body, headers: h, signal: AbortSignal.timeout(timeoutMs) }, policyOf(opts));
    const answer = (await res.text()).slice(0, RESPONSE_BODY_MAX);
    if (res.ok) return { ok: true, code: res.status, body: answer };
    return { ok: false, code: res.status, body: answer, error: `HTTP ${res.status}${answer ? `: ${oneLine(answer)}` : ""}` };
  } catch (e) {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return { ok: false, error: `timed out after ${timeoutMs} ms` };
    if (e instanceof TargetRefused) return { ok: false, error: e.message };
    return { ok: false, error: errorText(e) };
  }
}

function detailLines(m: AlertMessage): [string, string][] {
  const lines: [string, string][] = [];
  if (m.job) lines.push(["Job", jobRef(m)]);
  if (m.agent) lines.push(["Agent", `${m.agent.name} (${m.agent.hostname})`]);
  if (m.gitops) lines.push(["Repository", `${m.gitops.repository} (${m.gitops.branch})`], ["Commit", m.gitops.commit ?? "-"]);
  lines.push(["Tenant", m.tenant.name]);
  if (m.event !== "test" && m.event !== "drift") {
    lines.push(["Status", `${m.status}${m.previous_status ? ` (was ${m.previous_status})` : ""}`]);
    lines.push(["Since", m.since]);
  }
  lines.push(["Reason", m.reason]);
  return lines;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + "…";
}

const oneLine = (s: string) => truncate(s.replace(/\s+/g, " ").trim(), 200);

/** HTTP header values must be Latin-1; anything else goes RFC 2047-encoded (ntfy decodes it). */
function headerValue(s: string): string {
  const clean = s.replace(/[\r\n]+/g, " ");
  return /^[\x20-\x7e]*$/.test(clean) ? clean : `=?UTF-8?B?${Buffer.from(clean, "utf8").toString("base64")}?=`;
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/** The sender of each channel type. */
const SENDERS: Record<string, Sender> = {
  webhook: sendWebhook,
  slack: sendSlack,
  discord: sendDiscord,
  teams: sendTeams,
  email: sendEmail,
  pagerduty: sendPagerDuty,
  ntfy: sendNtfy,
};
