// Check-ins: finding the job a check-in is for, and turning input into a log entry.
// Every check-in, from a ping URL, the API, the CLI wrapper or an agent, goes through the
// same CheckinWriter and is applied by the engine.
import type { Db } from "../db";
import { Invalid, NotFound } from "../errors";
import { createJob } from "../jobs/jobs";
import type { CheckinEvent, CheckinKind } from "./writer";
import { jobStates, type JobStates } from "../monitor/states";

export interface PingTarget {
  id: string;
  tenant_id: string;
  last_checkin_id: number | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isRunId(rid: string): boolean {
  return UUID_RE.test(rid);
}

/** Jobs found by ping token, kept in memory: the lookup runs on every ping. */
const MAX_CACHED_TOKENS = 100_000;

export class PingLookup {
  private readonly cache = new Map<string, PingTarget>();
  private readonly tokenOf = new Map<string, string>();
  private readonly byToken;
  private readonly tenantByKey;
  private readonly byName;
  private readonly states: JobStates;

  constructor(private readonly db: Db) {
    // A deleted job must stop answering at once: cached hits are checked against the owner of job state.
    this.states = jobStates(db);
    this.byToken = db.query<PingTarget, [string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE ping_token = ?");
    this.tenantByKey = db.query<{ id: string; auto_provision: number }, [string]>(
      "SELECT id, auto_provision FROM tenants WHERE ping_key = ?",
    );
    this.byName = db.query<PingTarget, [string, string, string]>(
      "SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND namespace = ? AND name = ?",
    );
  }

  token(token: string): PingTarget | null {
    const hit = this.cache.get(token);
    if (hit) {
      if (!this.states.isDeleted(hit.id)) return hit;
      this.cache.delete(token);
      this.tokenOf.delete(hit.id);
      return null;
    }
    const found = this.byToken.get(token);
    if (found) {
      if (this.cache.size >= MAX_CACHED_TOKENS) {
        this.cache.clear();
        this.tokenOf.clear();
      }
      this.cache.set(token, found);
      this.tokenOf.set(found.id, token);
    }
    return found;
  }

  /**
   * A job by the tenant's ping key and a slug: `<name>` in the default namespace, or
   * `<namespace>-<name>` (names may hold '-', so each split is tried, default first).
   */
  slug(pingKey: string, slug: string): { target: PingTarget | null; tenantId: string | null; autoProvision: boolean } {
    const tenant = this.tenantByKey.get(pingKey);
    if (!tenant) return { target: null, tenantId: null, autoProvision: false };
    let target = this.byName.get(tenant.id, "default", slug);
    for (let i = slug.indexOf("-"); !target && i > 0; i = slug.indexOf("-", i + 1)) {
      target = this.byName.get(tenant.id, slug.slice(0, i), slug.slice(i + 1));
    }
    return { target, tenantId: tenant.id, autoProvision: tenant.auto_provision === 1 };
  }
}

/** Creates a ping-only job for an unknown slug (tenants that allow auto-provisioning). */
export function provisionJob(db: Db, tenantId: string, slug: string, now: number): PingTarget {
  const { job } = createJob(db, tenantId, { name: slug, schedule: "@every 1d", annotations: { "crontopus.io/provisioned-by": "ping" } }, now);
  return { id: job.id, tenant_id: tenantId, last_checkin_id: null };
}

const KINDS: readonly CheckinKind[] = ["start", "success", "fail", "log"];

export interface CheckinInput {
  job: string;
  kind: string;
  exit_code?: number;
  duration_ms?: number;
  output?: string;
  run_id?: string;
  started_at?: string | number;
  /** When it happened, for results delivered late (e.g. spooled by an agent). */
  at?: string | number;
  /** With kind fail: the wrapper killed the command at the job's timeout. */
  timed_out?: boolean;
}

function readTime(field: string, v: string | number | undefined, now: number): number | null {
  if (v === undefined) return null;
  const ms = typeof v === "number" ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Invalid(field, "expected an ISO 8601 time or milliseconds since the epoch");
  if (ms > now + 60_000) throw new Invalid(field, "is in the future");
  return ms;
}

/** Finds the job an API check-in names ("namespace/name", "name" in default, or its id) in the tenant. */
export function findCheckinJob(db: Db, tenantId: string, ref: string): PingTarget {
  const slash = ref.indexOf("/");
  const row =
    slash > 0
      ? db.query<PingTarget, [string, string, string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND namespace = ? AND name = ?").get(tenantId, ref.slice(0, slash), ref.slice(slash + 1))
      : db.query<PingTarget, [string, string, string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND (id = ? OR (namespace = 'default' AND name = ?))").get(tenantId, ref, ref);
  if (!row) throw new NotFound(`job ${ref}`);
  return row;
}

/** Checks an API check-in and turns it into a log entry. */
export function checkinEvent(target: PingTarget, input: CheckinInput, source: string, bodyLimit: number, now: number): CheckinEvent {
  if (!(KINDS as readonly string[]).includes(input.kind)) throw new Invalid("kind", `must be one of ${KINDS.join(", ")}`);
  const kind = input.kind as CheckinKind;
  if (input.exit_code !== undefined) {
    if (!Number.isInteger(input.exit_code) || input.exit_code < 0 || input.exit_code > 255) throw new Invalid("exit_code", "must be 0 to 255");
    if (kind === "success" && input.exit_code !== 0) throw new Invalid("exit_code", "a success has exit code 0; send kind fail");
    if (kind === "fail" && input.exit_code === 0) throw new Invalid("exit_code", "a failure has an exit code of 1 to 255; send kind success");
  }
  if (input.duration_ms !== undefined && (!Number.isInteger(input.duration_ms) || input.duration_ms < 0)) {
    throw new Invalid("duration_ms", "must be a whole number of milliseconds, 0 or more");
  }
  if (input.run_id !== undefined && !isRunId(input.run_id)) throw new Invalid("run_id", "must be a UUID");
  const startedAt = readTime("started_at", input.started_at, now);
  let at = readTime("at", input.at, now);
  if (at === null && startedAt !== null) at = kind === "start" ? startedAt : input.duration_ms !== undefined ? startedAt + input.duration_ms : null;
  const { text, truncated } = truncate(input.output ?? null, bodyLimit);
  return {
    tenant_id: target.tenant_id,
    job_id: target.id,
    last_checkin_id: target.last_checkin_id,
    kind,
    exit_code: input.exit_code ?? (kind === "success" ? 0 : null),
    rid: input.run_id ?? null,
    received_at: at ?? now,
    started_at: startedAt,
    duration_ms: input.duration_ms ?? null,
    body: text,
    truncated,
    source,
    ...(input.timed_out && kind === "fail" ? { timed_out: true } : {}),
  };
}

/** Keeps at most `limit` bytes of UTF-8 text: its first and last half when it is longer. */
export function truncate(text: string | null, limit: number): { text: string | null; truncated: boolean } {
  if (text === null || text.length === 0) return { text: null, truncated: false };
  if (text.length * 3 <= limit) return { text, truncated: false };
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= limit) return { text, truncated: false };
  const half = Math.floor(limit / 2);
  return { text: joinHeadTail(bytes.subarray(0, half), bytes.subarray(bytes.length - (limit - half)), limit - half, bytes.length), truncated: true };
}

/** The head and the tail of a long output with a marker between them, within about the same size. */
export function joinHeadTail(head: Uint8Array, tail: Uint8Array, tailLimit: number, total: number): string {
  const dropped = total - head.length - Math.min(tail.length, tailLimit);
  const t = tail.length > tailLimit ? tail.subarray(tail.length - tailLimit) : tail;
  const decode = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
  return `${decode(head).replace(/\uFFFD$/, "")}\n[… ${dropped} bytes cut …]\n${decode(t).replace(/^\uFFFD/, "")}`;
}
