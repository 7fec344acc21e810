// The ping endpoints: /ping/<token>[/start|/fail|/log|/<exit-code>] and
// /ping/<tenant-ping-key>/<slug>[/…], for GET, POST and HEAD, as Healthchecks' ping API.
// This is the hot path: one indexed lookup, one queued insert, answered after its commit.
import type { Db } from "../db";
import type { Logger } from "../log";
import { RateLimiter, type Window } from "../ratelimit";
import { Invalid, TooManyRequests } from "../errors";
import { storageFault } from "../db";
import { clientIp } from "../clientip";
import { SECURITY_HEADERS } from "../headers";
import { isRunId, PingLookup, provisionJob, type PingTarget } from "./checkins";
import { readHeadTail } from "../headtail";
import type { CheckinKind, CheckinWriter } from "./writer";

export interface PingContext {
  db: Db;
  log: Logger;
  writer: CheckinWriter;
  bodyLimit: number;
  trustProxy: boolean;
  /** Check-ins a job may send per minute (0: no limit). */
  perJobPerMinute: number;
  now: () => number;
}

type Server = { requestIP(r: Request): { address: string } | null } | null | undefined;

/** Every ping answer carries the security headers itself: the route skips Elysia's hooks. */
const TEXT = { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" };
/** A Headers object is copied natively, a plain object key by key: a third of the cost per answer. */
const TEXT_HEADERS = new Headers(TEXT);
const text = (status: number, body: string, head: boolean) => new Response(head ? null : body, { status, headers: TEXT_HEADERS });
/** The answer to nearly every ping; Bun gives a string body its text/plain content type itself. */


const KIND_WORDS: Record<string, CheckinKind> = { start: "start", fail: "fail", log: "log" };

/** The kind a path suffix stands for; "bad" for a number that is no exit code; null when it is no kind. */
function kindOf(word: string): { kind: CheckinKind; exit: number | null } | "bad" | null {
  const k = KIND_WORDS[word];
  if (k) return { kind: k, exit: null };
  if (/^-?\d+$/.test(word)) {
    // "-0" is no exit code either (it would be stored as the float -0).
    const code = Number(word);
    if (word.startsWith("-") || code > 255) return "bad";
    return { kind: code === 0 ? "success" : "fail", exit: code };
  }
  return null;
}

/** The path segments after /ping/ and the raw query string. */
function splitUrl(url: string): { parts: string[]; query: string } {
  const start = url.indexOf("/ping/");
  const q = url.indexOf("?", start);
  const path = q < 0 ? url.slice(start + 6) : url.slice(start + 6, q);
  const parts: string[] = [];
  for (const p of path.split("/")) if (p) parts.push(p.includes("%") ? safeDecode(p) : p);
  return { parts, query: q < 0 ? "" : url.slice(q + 1) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function queryParam(query: string, name: string): string | null {
  if (!query) return null;
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key === name) return eq < 0 ? "" : safeDecode(pair.slice(eq + 1).replace(/\+/g, " "));
  }
  return null;
}

/**
 * Reads the body, keeping at most `limit` bytes: the first and the last half when it is larger
 * (errors are usually at the end), marked truncated; never refused.
 */
async function readBody(req: Request, limit: number): Promise<{ body: string | null; truncated: boolean }> {
  // Decided by the headers: touching req.body makes a stream, a good part of a ping's cost.
  const length = req.headers.get("content-length");
  if (length !== null && Number(length) <= limit) {
    if (length === "0") return { body: null, truncated: false };
    const t = await req.text();
    return { body: t.length ? t : null, truncated: false };
  }
  if (!req.body) return { body: null, truncated: false };
  return readHeadTail(req.body as unknown as AsyncIterable<Uint8Array>, limit);
}

export function pingHandler(ctx: PingContext) {
  const lookup = new PingLookup(ctx.db, ctx.writer);
  const perJob = ctx.perJobPerMinute > 0 ? new RateLimiter(ctx.perJobPerMinute, 60_000, "rate limited") : null;
  // Unknown tokens are cheap to send and cost a lookup each: limit them per address.
  const misses = new RateLimiter(120, 60_000, "rate limited");
  // As Healthchecks does: runitor and others send up to this many bytes of output (10 KB otherwise).
  const answered = new Headers({ ...TEXT, "ping-body-limit": String(ctx.bodyLimit) });

  return async function ping(req: Request, server?: Server): Promise<Response> {
    const head = req.method === "HEAD";
    if (req.method !== "GET" && req.method !== "POST" && !head) return text(405, "method not allowed", false);
    // URL parsing by hand: new URL() was a tenth of the cost of a check-in.
    const { parts, query } = splitUrl(req.url);
    const now = ctx.now();
    const ip = clientIp(server, req, ctx.trustProxy);

    let target: PingTarget | null = null;
    let kind: CheckinKind = "success";
    let exit: number | null = null;
    let created = false;
    try {
      let slugForm: { key: string; slug: string } | null = null;
      if (parts.length === 1) {
        target = lookup.token(parts[0]!);
      } else if (parts.length === 2) {
        const k = kindOf(parts[1]!);
        if (k === "bad") return text(400, "invalid exit code", head);
        if (k) {
          ({ kind, exit } = k);
          target = lookup.token(parts[0]!);
        } else slugForm = { key: parts[0]!, slug: parts[1]! };
      } else if (parts.length === 3) {
        const k = kindOf(parts[2]!);
        if (k === "bad") return text(400, "invalid exit code", head);
        if (!k) return text(404, "not found", head);
        ({ kind, exit } = k);
        slugForm = { key: parts[0]!, slug: parts[1]! };
      } else return text(404, "not found", head);

      if (slugForm) {
        const found = lookup.slug(slugForm.key, slugForm.slug);
        target = found.target;
        if (!target && found.tenantId && found.autoProvision && queryParam(query, "create") === "1") {
          target = provisionJob(ctx.db, found.tenantId, slugForm.slug, now);
          created = true;
        }
      }
      if (!target) {
        misses.hit(ip, now);
        return text(404, "not found", head);
      }
      const rid = queryParam(query, "rid");
      if (rid !== null && !isRunId(rid)) return text(400, "invalid run id", head);
      // The window hangs off the cached lookup result: no map to search on the hot path.
      perJob?.hit(target.id, now, target as PingTarget & { window?: Window });

      const { body, truncated } = head ? { body: null, truncated: false } : await readBody(req, ctx.bodyLimit);
      const agent = req.headers.get("user-agent");
      await ctx.writer.append({
        tenant_id: target.tenant_id,
        job_id: target.id,
        last_checkin_id: target.last_checkin_id,
        kind,
        exit_code: exit ?? (kind === "success" ? 0 : null),
        rid,
        received_at: now,
        started_at: null,
        duration_ms: null,
        body,
        truncated,
        source: `ping from ${ip}${agent ? ` (${agent.slice(0, 80)})` : ""}`,
        head: target.head,
      });
      return new Response(head ? null : created ? "Created" : "OK", { status: created ? 201 : 200, headers: answered });
    } catch (e) {
      if (e instanceof TooManyRequests) return new Response(head ? null : "rate limited", { status: 429, headers: { ...TEXT, "retry-after": String(e.retryAfterSeconds) } });
      // Not stored (disk full, read-only, I/O error): the client may send it again later.
      const fault = storageFault(e);
      if (fault) {
        return new Response(head ? null : `not stored: ${fault.reason}`, { status: 503, headers: { ...TEXT, "retry-after": String(fault.retryAfterSeconds) } });
      }
      // A name that is no valid job name, when provisioning.
      if (created === false && target === null && e instanceof Invalid) return text(400, "invalid slug", head);
      ctx.log.error("ping failed", { error: e instanceof Error ? e.message : String(e) });
      return text(500, "internal error", head);
    }
  };
}
