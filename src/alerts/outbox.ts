// The notification outbox: the engine queues rows in its own transaction; the Dispatcher
// delivers them, retrying with backoff, and records every attempt. Rows survive restarts.
import type { Config } from "../config";
import type { Db } from "../db";
import type { Logger } from "../log";
import { newId } from "../tokens";
import type { SecretBox } from "../secrets";
import { getChannel, openChannelConfig, readChannelConfig } from "./channels";
import { testMessage, type AlertEvent, type AlertMessage } from "./message";
import { DEFAULT_TIMEOUT_MS, RESPONSE_BODY_MAX, send, type ChannelConfig, type SendOptions, type SendResult } from "./senders";
import { isoTime } from "../time";

export const MAX_ATTEMPTS = 10;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 60 * 60_000;
/** How long a claimed row stays out of other senders' reach; past it, a crashed send is retried. */
const CLAIM_MARGIN_MS = 60_000;

export type NotificationStatus = "pending" | "sent" | "failed";

export interface NotificationRow {
  id: number;
  tenant_id: string;
  channel_id: string;
  job_id: string | null;
  flip_id: number | null;
  event: AlertEvent;
  dedup_key: string;
  payload: string;
  status: NotificationStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  response_code: number | null;
  response_body: string | null;
  created_at: number;
  sent_at: number | null;
}

export interface EnqueueInput {
  tenantId: string;
  channelId: string;
  jobId: string | null;
  flipId: number | null;
  event: AlertEvent;
  /** Unique in the outbox: a second enqueue with the same key is a no-op. E.g. "flip:<flip id>:<channel id>". */
  dedupKey: string;
  message: AlertMessage;
}

/** The delay before attempt `attempts + 1`: 30 s, 1 min, 2 min, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
}

/** Queues a notification, due now. Returns its id, or null when the dedup key was already queued. */
export function enqueueNotification(db: Db, input: EnqueueInput, now: number): number | null {
  const row = db
    .query<{ id: number }, Record<string, string | number | null>>(
      `INSERT OR IGNORE INTO notifications (tenant_id, channel_id, job_id, flip_id, event, dedup_key, payload, next_attempt_at, created_at)
       VALUES ($tenant, $channel, $job, $flip, $event, $dedup, $payload, $now, $now)
       RETURNING id`,
    )
    .get({
      tenant: input.tenantId,
      channel: input.channelId,
      job: input.jobId,
      flip: input.flipId,
      event: input.event,
      dedup: input.dedupKey,
      payload: JSON.stringify(input.message),
      now,
    });
  return row?.id ?? null;
}

/** Recent deliveries to one channel, newest first. */
export function listDeliveries(db: Db, tenantId: string, channelId: string, limit = 50) {
  return db
    .query<NotificationRow, [string, string, number]>(
      "SELECT * FROM notifications WHERE tenant_id = ? AND channel_id = ? ORDER BY id DESC LIMIT ?",
    )
    .all(tenantId, channelId, limit)
    .map((r) => ({
      id: r.id,
      event: r.event,
      job_id: r.job_id,
      status: r.status,
      attempts: r.attempts,
      response_code: r.response_code,
      last_error: r.last_error,
      next_attempt_at: r.status === "pending" ? isoTime(r.next_attempt_at) : null,
      created_at: isoTime(r.created_at),
      sent_at: isoTime(r.sent_at),
    }));
}

export function getNotification(db: Db, id: number): NotificationRow | null {
  return db.query<NotificationRow, [number]>("SELECT * FROM notifications WHERE id = ?").get(id);
}

/**
 * Claims a due pending row by moving its next attempt past the send timeout. The UPDATE is
 * the lock: whoever changes the row sends it, so two senders (or a test send racing the
 * dispatcher) never deliver the same row at once.
 */
function claim(db: Db, id: number, now: number, timeoutMs: number): boolean {
  return (
    db
      .query("UPDATE notifications SET next_attempt_at = $until WHERE id = $id AND status = 'pending' AND next_attempt_at <= $now")
      .run({ id, now, until: now + timeoutMs + CLAIM_MARGIN_MS }).changes === 1
  );
}

/** Records one attempt: sent on success; otherwise retried on the backoff schedule, or failed for good. */
function recordAttempt(db: Db, row: { id: number; attempts: number }, result: SendResult, now: number, retry = true): NotificationStatus {
  const attempts = row.attempts + 1;
  const status: NotificationStatus = result.ok ? "sent" : retry && attempts < MAX_ATTEMPTS ? "pending" : "failed";
  db.query(
    `UPDATE notifications SET status = $status, attempts = $attempts, next_attempt_at = $next, sent_at = $sent,
       response_code = $code, response_body = $body, last_error = $error
     WHERE id = $id`,
  ).run({
    id: row.id,
    status,
    attempts,
    next: status === "pending" ? now + backoffMs(attempts) : now,
    sent: result.ok ? now : null,
    code: result.code ?? null,
    body: result.body?.slice(0, RESPONSE_BODY_MAX) ?? null,
    error: result.ok ? null : (result.error ?? "failed").slice(0, RESPONSE_BODY_MAX),
  });
  return status;
}

type DueRow = NotificationRow & { channel_name: string; channel_type: string; channel_config: string; channel_sealed: string | null };

export interface DispatcherContext {
  db: Db;
  config: Pick<Config, "smtpUrl" | "smtpFrom" | "allowPrivateTargets">;
  /** Decrypts channel configs, just before each send. */
  secrets: SecretBox;
  log: Logger;
  now: () => number;
}

export interface DispatcherOptions {
  /** Sends in flight at once. */
  concurrency?: number;
  /** Rows picked per round. */
  batchSize?: number;
  /** How often start() looks for due rows when nothing kicks it. */
  pollMs?: number;
  timeoutMs?: number;
}

/** Delivers due outbox rows: call start() once, kick() after queueing, stop() on shutdown. */
export class Dispatcher {
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  /** Rows this dispatcher is sending right now. */
  private readonly inFlight = new Set<number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;

  constructor(
    private readonly ctx: DispatcherContext,
    opts: DispatcherOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 4;
    this.batchSize = opts.batchSize ?? 50;
    this.pollMs = opts.pollMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Starts the loop; pending rows left by a previous process are picked up at once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.kick();
  }

  /** Looks for due rows now rather than at the next poll. */
  kick(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (!this.started) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = setTimeout(() => this.kick(), this.pollMs);
      }
    });
  }

  /** Stops polling and waits for the sends in flight. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private async loop(): Promise<void> {
    try {
      // A full batch means more may be due: keep going until a round comes back short.
      while (this.started && (await this.runOnce()) >= this.batchSize);
    } catch (e) {
      this.ctx.log.error("notification dispatch failed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }

  /** One round: sends the rows due now. Returns how many it attempted. */
  async runOnce(): Promise<number> {
    const { db } = this.ctx;
    const now = this.ctx.now();
    const due = db
      .query<DueRow, [number, number]>(
        `SELECT n.*, c.name AS channel_name, c.type AS channel_type, c.config AS channel_config, c.sealed AS channel_sealed
         FROM notifications n JOIN channels c ON c.id = n.channel_id
         WHERE n.status = 'pending' AND n.next_attempt_at <= ?
         ORDER BY n.next_attempt_at, n.id LIMIT ?`,
      )
      .all(now, this.batchSize + this.inFlight.size)
      .filter((r) => !this.inFlight.has(r.id))
      .slice(0, this.batchSize)
      .filter((r) => claim(db, r.id, now, this.timeoutMs));
    for (const r of due) this.inFlight.add(r.id);

    let next = 0;
    const worker = async () => {
      while (next < due.length) await this.deliver(due[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, due.length) }, worker));
    return due.length;
  }

  private async deliver(row: DueRow): Promise<void> {
    const { db, log, config } = this.ctx;
    try {
      let result: SendResult;
      // The open config, secrets included: what the log line must not repeat.
      let opened: ChannelConfig = {};
      try {
        const message = JSON.parse(row.payload) as AlertMessage;
        opened = openChannelConfig(this.ctx.secrets, { config: row.channel_config, sealed: row.channel_sealed });
        const channel = { type: row.channel_type, config: opened };
        result = await send(channel, message, {
          smtpUrl: config.smtpUrl,
          smtpFrom: config.smtpFrom,
          allowPrivateTargets: config.allowPrivateTargets,
          timeoutMs: this.timeoutMs,
        });
      } catch (e) {
        result = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      const status = recordAttempt(db, row, result, this.ctx.now());
      const fields = { notification: row.id, channel: row.channel_name, type: row.channel_type, event: row.event, attempt: row.attempts + 1 };
      const error = result.error === undefined ? undefined : withoutConfigValues(result.error, opened);
      if (status === "sent") log.info("notification sent", { ...fields, code: result.code });
      else if (status === "pending") log.warn("notification failed, will retry", { ...fields, error });
      else log.error("notification failed for good", { ...fields, error });
    } finally {
      this.inFlight.delete(row.id);
    }
  }
}

/**
 * An error for the log, with every value of the channel's config taken out: a receiver's answer
 * may echo what it was sent (its URL, a token header, a routing key), and the channel's secrets
 * must not reach the log that way.
 */
export function withoutConfigValues(text: string, config: ChannelConfig): string {
  const values = new Set<string>();
  const collect = (v: unknown) => {
    if (typeof v === "string") {
      values.add(v);
      // A URL echoed in pieces: its path and query, and each query value.
      try {
        const u = new URL(v);
        values.add(u.pathname + u.search);
        values.add(u.pathname);
        for (const [, q] of u.searchParams) values.add(q);
      } catch {}
    } else if (v && typeof v === "object") for (const x of Object.values(v)) collect(x);
  };
  collect(config);
  let out = text;
  // Longest first, so that a URL goes whole before its path is looked for.
  for (const v of [...values].filter((v) => v.length >= 6).sort((a, b) => b.length - a.length)) out = out.split(v).join("[redacted]");
  return out;
}

/** Sends a `test` message to a channel now, recorded in its outbox like any other; never retried. */
export async function sendTest(db: Db, secrets: SecretBox, tenantId: string, channelId: string, opts: SendOptions, now = Date.now()): Promise<SendResult> {
  const stored = getChannel(db, tenantId, channelId);
  const channel = { type: stored.type, config: readChannelConfig(db, secrets, tenantId, channelId) };
  const tenant = db.query<{ slug: string; name: string }, [string]>("SELECT slug, name FROM tenants WHERE id = ?").get(tenantId)!;
  const message = testMessage(tenant, now);
  const id = enqueueNotification(
    db,
    { tenantId, channelId, jobId: null, flipId: null, event: "test", dedupKey: `test:${channelId}:${newId()}`, message },
    now,
  )!;
  // Claimed before any await, so a running dispatcher cannot pick the row up as well.
  claim(db, id, now, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const result = await send(channel, message, opts);
  recordAttempt(db, { id, attempts: 0 }, result, now, false);
  return result;
}
