// Live updates: one stream of server-sent events per tenant (GET /api/v1/events).
//
// The owners of what pages show say *what* changed, by id: JobStates (src/monitor/states.ts) a
// job's monitoring state and each check-in applied to it, the engine the runs it times out, the
// agent services an agent's heartbeat, report or flip. The hub keeps those ids per tenant for a
// short window (coalescing: a job pinged 50 times in it is one event), then asks the feed
// (src/events/feed.ts) for each changed job, run and agent once, as the API presents it, and
// writes one chunk to every subscriber of the tenant. A tenant nobody listens to has no channel:
// publishing to it is a property read and a map lookup, with nothing allocated, and while no
// tenant has a channel the publishers skip even that (`live`).
//
// Bounds: per window and tenant at most MAX_JOBS job events, MAX_RUNS run events and about
// MAX_WINDOW_BYTES (jobs and agents beyond it wait for the next window, those whose status
// changed first; the newest runs are sent and the others counted in a `runs-skipped` event); each
// subscriber may have MAX_QUEUED_BYTES waiting to be sent, and is dropped past that, so a slow
// client costs neither memory nor the check-in path anything. The last RING_SIZE events (at most
// RING_BYTES) of each tenant are kept so a reconnecting client resumes from its Last-Event-ID; a channel lives on
// LINGER_MS after its last subscriber left, for exactly that.
import type { Db } from "../db";

/** How long changes are gathered before they are sent (at most one event per job per window). */
export const WINDOW_MS = 250;
/** Job events per tenant per window; the rest wait for the next window, oldest first. */
export const MAX_JOBS = 50;
/** Run events per tenant per window; the newest are kept, the others counted as skipped. */
export const MAX_RUNS = 25;
/** Agent events per tenant per window; the rest wait. */
export const MAX_AGENTS = 50;
/** Events kept per tenant for clients that reconnect with Last-Event-ID, and at most this much of their text. */
export const RING_SIZE = 1024;
export const RING_BYTES = 1 << 20;
/** A comment line this often keeps proxies and browsers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** What the client is told to wait before it reconnects (the `retry:` field). */
export const RETRY_MS = 2_000;
/** About the most a window sends per tenant (UTF-16 units of its text); the rest waits or is counted. */
export const MAX_WINDOW_BYTES = 64 * 1024;
/** Bytes a subscriber may have waiting; a client that falls further behind is dropped. */
export const MAX_QUEUED_BYTES = 1 << 20;
/** A channel with no subscriber is kept this long (by the clock) so a reconnect can resume. */
export const LINGER_MS = 30_000;
/** How often (real time) heartbeats, credential checks and lingering channels are looked at. */
const HOUSEKEEPING_MS = 1_000;

/** Renders what changed, as the API presents it; null when it is gone (or not the tenant's). */
export interface Feed {
  job(tenantId: string, jobId: string): unknown | null;
  run(tenantId: string, runId: number): unknown | null;
  agent(tenantId: string, agentId: string): unknown | null;
}

/** Whether a subscriber may still listen (its token or session still valid, same tenant, same rights). */
export type StillAllowed = () => boolean | Promise<boolean>;

interface Subscriber {
  controller: ReadableStreamDefaultController<Uint8Array>;
  channel: Channel;
  allowed: StillAllowed;
  open: boolean;
}

class Channel {
  readonly subscribers = new Set<Subscriber>();
  /** Changed since the last window, in the order they first changed (Sets keep insertion order). */
  readonly jobs = new Set<string>();
  /** Of those, the ones whose status changed: they go first. */
  readonly flipped = new Set<string>();
  /** The newest MAX_RUNS run ids of the window, as a circle (nothing allocated per check-in), and how many came. */
  private readonly runIds: number[] = new Array<number>(MAX_RUNS).fill(0);
  private runCount = 0;
  readonly agents = new Set<string>();
  readonly goneJobs = new Map<string, { namespace: string; name: string }>();
  readonly goneAgents = new Set<string>();
  /** The last events (at most RING_SIZE of them and RING_BYTES of text): sequence numbers and text, oldest first from `start`. */
  private seqs: number[] = [];
  private texts: string[] = [];
  private start = 0;
  private ringBytes = 0;
  /** Events up to this sequence number cannot be replayed (before the channel, or evicted). */
  floor: number;
  /** When the last subscriber left (clock time); null while someone listens. */
  emptySince: number | null = null;

  constructor(
    readonly tenantId: string,
    floor: number,
  ) {
    this.floor = floor;
  }

  get pending(): boolean {
    return this.jobs.size > 0 || this.runCount > 0 || this.agents.size > 0 || this.goneJobs.size > 0 || this.goneAgents.size > 0;
  }

  addRun(id: number): void {
    this.runIds[this.runCount++ % MAX_RUNS] = id;
  }

  /**
   * The window's runs, oldest first, each once: the newest MAX_RUNS (a page that shows runs wants
   * the latest), and how many older ones were left out.
   */
  takeRuns(): { ids: number[]; skipped: number } {
    const n = Math.min(this.runCount, MAX_RUNS);
    const ids: number[] = [];
    const seen = new Set<number>();
    for (let i = this.runCount - n; i < this.runCount; i++) {
      const id = this.runIds[i % MAX_RUNS]!;
      if (!seen.has(id)) ids.push(id);
      seen.add(id);
    }
    const skipped = this.runCount - n;
    this.runCount = 0;
    return { ids, skipped };
  }

  clearRuns(): void {
    this.runCount = 0;
  }

  remember(seq: number, text: string): void {
    this.seqs.push(seq);
    this.texts.push(text);
    this.ringBytes += text.length;
    while (this.seqs.length - this.start > RING_SIZE || (this.ringBytes > RING_BYTES && this.seqs.length - this.start > 1)) {
      this.floor = this.seqs[this.start]!;
      this.ringBytes -= this.texts[this.start]!.length;
      this.start++;
    }
    // Drop what was evicted now and then, not on every event.
    if (this.start >= RING_SIZE) {
      this.seqs = this.seqs.slice(this.start);
      this.texts = this.texts.slice(this.start);
      this.start = 0;
    }
  }

  /** The events after `seq`, oldest first. */
  since(seq: number): string {
    let out = "";
    for (let i = this.start; i < this.seqs.length; i++) if (this.seqs[i]! > seq) out += this.texts[i]!;
    return out;
  }
}

export interface HubStats {
  channels: number;
  subscribers: number;
  /** Subscribers dropped for falling more than MAX_QUEUED_BYTES behind, since start. */
  dropped: number;
  /** Events written since start (each once, whatever the number of subscribers). */
  events: number;
  /** Time spent rendering and writing windows since start, in ms. */
  flushMs: number;
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": heartbeat\n\n");
const READY = "event: ready\ndata: {}\n\n";

export class EventHub {
  /** True while some tenant has a channel: publishers check this before anything else. */
  live = false;
  private readonly channels = new Map<string, Channel>();
  /** Tells this process's event ids from another's: an id from before a restart cannot be resumed. */
  private readonly boot = Date.now().toString(36);
  private seq = 0;
  private feed: Feed | null = null;
  private now: () => number = Date.now;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = -Infinity;
  private housekeeping: ReturnType<typeof setInterval> | null = null;
  private lastBeat = 0;
  private tidying = false;
  private closed = false;
  private readonly totals = { dropped: 0, events: 0, flushMs: 0 };

  /** About the most one window sends per tenant (MAX_WINDOW_BYTES unless a test says otherwise). */
  private windowBytes = MAX_WINDOW_BYTES;

  /** Set by createContext: how changes are rendered, the clock, and (tests) a window budget. */
  configure(feed: Feed, now: () => number, opts: { windowBytes?: number } = {}): void {
    this.feed = feed;
    this.now = now;
    this.windowBytes = opts.windowBytes ?? MAX_WINDOW_BYTES;
  }

  // ---- publishing (called by the owners of the state; cheap, never throws) ----

  /** A job's state changed; `runId`: a check-in applied to it, or a run of it that changed. */
  job(tenantId: string, jobId: string, runId: number | null): void {
    const ch = this.channels.get(tenantId);
    if (ch === undefined) return;
    ch.jobs.add(jobId);
    if (runId !== null) ch.addRun(runId);
    this.schedule(ch);
  }

  /** A job's status changed: its event goes ahead of jobs whose counters alone moved. */
  jobFlipped(tenantId: string, jobId: string): void {
    const ch = this.channels.get(tenantId);
    if (ch === undefined) return;
    ch.jobs.add(jobId);
    ch.flipped.add(jobId);
    this.schedule(ch);
  }

  jobGone(tenantId: string, job: { id: string; namespace: string; name: string }): void {
    const ch = this.channels.get(tenantId);
    if (ch === undefined) return;
    ch.jobs.delete(job.id);
    ch.flipped.delete(job.id);
    ch.goneJobs.set(job.id, { namespace: job.namespace, name: job.name });
    this.schedule(ch);
  }

  agent(tenantId: string, agentId: string): void {
    const ch = this.channels.get(tenantId);
    if (ch === undefined) return;
    ch.agents.add(agentId);
    this.schedule(ch);
  }

  agentGone(tenantId: string, agentId: string): void {
    const ch = this.channels.get(tenantId);
    if (ch === undefined) return;
    ch.agents.delete(agentId);
    ch.goneAgents.add(agentId);
    this.schedule(ch);
  }

  // ---- subscribing ----

  /**
   * Where the streams are now, as an event id: a page rendered after this call resumes from it
   * (its stream's Last-Event-ID) and hears of every change its data may not show, or gets a reset.
   */
  position(): string {
    return `${this.boot}-${this.seq}`;
  }

  /**
   * A stream of the tenant's events. With the id of the last event a client saw, the events since
   * then are sent first; when they are no longer known (too old, or from before a restart) a
   * `reset` event says so, and the page reloads what it shows. `greet`: a `ready` event follows
   * at once (the console's pages fall back to polling when it does not come).
   */
  subscribe(tenantId: string, lastEventId: string | null, allowed: StillAllowed, opts: { greet?: boolean } = {}): ReadableStream<Uint8Array> {
    let ch = this.channels.get(tenantId);
    if (!ch) {
      // A number of its own: an id given out before the channel (to a client of an earlier one,
      // or by position()) is below its floor, and gets a reset, since nothing was kept meanwhile.
      ch = new Channel(tenantId, ++this.seq);
      this.channels.set(tenantId, ch);
      this.live = true;
    }
    const channel = ch;
    channel.emptySince = null;
    let sub: Subscriber | null = null;
    const hub = this;
    return new ReadableStream<Uint8Array>(
      {
        start(controller) {
          if (hub.closed) {
            controller.close();
            return;
          }
          sub = { controller, channel, allowed, open: true };
          channel.subscribers.add(sub);
          // A fresh client learns where it is (an id alone moves its Last-Event-ID and is not an
          // event), so that it resumes from here if the connection drops before any event.
          let first = `retry: ${RETRY_MS}\n` + (lastEventId ? `\n${hub.resume(channel, lastEventId)}` : `id: ${hub.boot}-${hub.seq}\n\n`);
          // A client that must tell a working stream from one a proxy holds back hears at once that
          // this one works (after the replay; without an id, so its Last-Event-ID stays).
          if (opts.greet) first += READY;
          controller.enqueue(encoder.encode(first));
          // What changed while nobody listened follows the replay.
          if (channel.pending) hub.schedule();
          hub.startHousekeeping();
        },
        cancel() {
          if (sub) hub.leave(sub);
        },
      },
      // Counted in bytes, and nothing buffered ahead: desiredSize is minus what waits to be sent.
      { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  private resume(channel: Channel, lastEventId: string): string {
    const m = /^([0-9a-z]+)-(\d+)$/.exec(lastEventId.trim());
    if (m && m[1] === this.boot && Number(m[2]) >= channel.floor && Number(m[2]) <= this.seq) return channel.since(Number(m[2]));
    return `id: ${this.boot}-${this.seq}\nevent: reset\ndata: {}\n\n`;
  }

  private leave(sub: Subscriber): void {
    if (!sub.open) return;
    sub.open = false;
    const ch = sub.channel;
    ch.subscribers.delete(sub);
    if (ch.subscribers.size === 0) ch.emptySince = this.now();
  }

  /** Ends the subscriber's stream: cleanly (`close`) or by dropping the connection. */
  private end(sub: Subscriber, how: "close" | "drop"): void {
    if (!sub.open) return;
    this.leave(sub);
    try {
      if (how === "close") sub.controller.close();
      // Without a reason: Bun then resets the connection without logging a stack for it.
      else sub.controller.error();
    } catch {
      // Already closed by the client.
    }
  }

  private send(sub: Subscriber, bytes: Uint8Array): void {
    // Past the bound, not merely at it with this chunk: one window's chunk always fits.
    const waiting = -(sub.controller.desiredSize ?? 0);
    if (waiting > MAX_QUEUED_BYTES) {
      this.totals.dropped++;
      this.end(sub, "drop");
      return;
    }
    try {
      sub.controller.enqueue(bytes);
    } catch {
      this.leave(sub);
    }
  }

  // ---- the window ----

  /**
   * A window for the channel's changes. A channel nobody listens to (kept for a reconnect) only
   * gathers them: they are rendered when someone comes back, after the events it replays.
   */
  private schedule(ch: Channel | null = null): void {
    if (this.flushTimer !== null || this.closed || (ch !== null && ch.subscribers.size === 0)) return;
    // Right after the group commit that caused it when the last window is over; else when it is.
    const wait = Math.max(0, this.lastFlush + WINDOW_MS - performance.now());
    this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  /** Sends what changed in every channel (the timer calls it; tests may too). */
  flush(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const t0 = (this.lastFlush = performance.now());
    let more = false;
    for (const ch of this.channels.values()) {
      if (!ch.pending || ch.subscribers.size === 0) continue;
      try {
        this.flushChannel(ch);
      } catch {
        // A read failed (the database is closing): these changes are lost; the next ones go out.
        ch.jobs.clear();
        ch.flipped.clear();
        ch.clearRuns();
        ch.agents.clear();
      }
      if (ch.pending) more = true;
    }
    this.totals.flushMs += performance.now() - t0;
    if (more) this.schedule();
  }

  private flushChannel(ch: Channel): void {
    const feed = this.feed;
    if (!feed) return;
    const t = ch.tenantId;
    let text = "";
    const add = (event: string, data: unknown) => {
      const seq = ++this.seq;
      const e = `id: ${this.boot}-${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      ch.remember(seq, e);
      text += e;
      this.totals.events++;
    };
    const full = () => text.length >= this.windowBytes;
    for (const [id, j] of ch.goneJobs) add("job-deleted", { id, namespace: j.namespace, name: j.name });
    ch.goneJobs.clear();
    // Status changes first, then agents, runs and the jobs whose counters alone moved, within the
    // window's budget; jobs and agents left over wait for the next window, runs are counted.
    let n = 0;
    const sendJob = (id: string) => {
      ch.jobs.delete(id);
      ch.flipped.delete(id);
      const job = feed.job(t, id);
      if (job !== null) add("job", job);
    };
    for (const id of ch.flipped) {
      if (n++ === MAX_JOBS || full()) break;
      sendJob(id);
    }
    let agents = 0;
    for (const id of ch.agents) {
      if (agents++ === MAX_AGENTS || full()) break;
      ch.agents.delete(id);
      const agent = feed.agent(t, id);
      if (agent !== null) add("agent", agent);
    }
    for (const id of ch.goneAgents) add("agent-deleted", { id });
    ch.goneAgents.clear();
    const runs = ch.takeRuns();
    let skipped = runs.skipped;
    for (const id of runs.ids) {
      if (full()) {
        skipped++;
        continue;
      }
      const run = feed.run(t, id);
      if (run !== null) add("run", run);
    }
    if (skipped > 0) add("runs-skipped", { count: skipped });
    for (const id of ch.jobs) {
      if (n++ >= MAX_JOBS || full()) break;
      sendJob(id);
    }
    if (text === "" || ch.subscribers.size === 0) return;
    const bytes = encoder.encode(text);
    for (const sub of ch.subscribers) this.send(sub, bytes);
  }

  // ---- heartbeats, credentials, lingering channels ----

  private startHousekeeping(): void {
    if (this.housekeeping !== null) return;
    this.lastBeat = this.now();
    this.housekeeping = setInterval(() => void this.tidy(), HOUSEKEEPING_MS);
    // An open stream alone does not keep a process alive.
    (this.housekeeping as { unref?: () => void }).unref?.();
  }

  /**
   * Every HEARTBEAT_MS of the clock: a comment to every subscriber, and a look at whether each
   * may still listen (a revoked token, a logged-out session, a removed member: the stream ends).
   * Channels nobody came back to within LINGER_MS are forgotten.
   */
  async tidy(): Promise<void> {
    if (this.tidying) return;
    this.tidying = true;
    try {
      await this.beat();
    } finally {
      this.tidying = false;
    }
    const now = this.now();
    for (const [tenant, ch] of this.channels) {
      if (ch.subscribers.size === 0 && ch.emptySince !== null && now - ch.emptySince >= LINGER_MS) this.channels.delete(tenant);
    }
    if (this.channels.size === 0) {
      this.live = false;
      if (this.housekeeping !== null) clearInterval(this.housekeeping);
      this.housekeeping = null;
    }
  }

  private async beat(): Promise<void> {
    const now = this.now();
    if (now - this.lastBeat < HEARTBEAT_MS) return;
    this.lastBeat = now;
    const all: Subscriber[] = [];
    for (const ch of this.channels.values()) for (const sub of ch.subscribers) all.push(sub);
    for (const sub of all) this.send(sub, HEARTBEAT);
    await Promise.all(
      all.map(async (sub) => {
        let ok = false;
        try {
          ok = await sub.allowed();
        } catch {
          ok = false;
        }
        if (!ok) this.end(sub, "close");
      }),
    );
  }

  /** Ends every stream cleanly (the server is stopping); clients reconnect to the next one. */
  close(): void {
    this.closed = true;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    for (const ch of this.channels.values()) for (const sub of [...ch.subscribers]) this.end(sub, "close");
    this.channels.clear();
    this.live = false;
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    this.housekeeping = null;
  }

  stats(): HubStats {
    let subscribers = 0;
    for (const ch of this.channels.values()) subscribers += ch.subscribers.size;
    return { channels: this.channels.size, subscribers, ...this.totals };
  }
}

const hubs = new WeakMap<Db, EventHub>();

/** The event hub of a database: one per connection, as its JobStates (made on first use). */
export function eventHub(db: Db): EventHub {
  let h = hubs.get(db);
  if (!h) hubs.set(db, (h = new EventHub()));
  return h;
}
