// Live updates: the parts of a page that follow the tenant's changes without a reload.
//
// A part says what it shows and how it is fetched again, in its attributes:
//
//   <section id="job-live" hx-get="/jobs/ops/backup/live" hx-trigger="live" hx-swap="outerMorph"
//            data-live="job:0193…" data-live-poll="5s">
//
// - data-live: the changes it follows, separated by spaces. `job`, `run` and `agent` follow every
//   job, run or agent of the tenant; `job:<id>` one job (its changes and its deletion), `run:<job id>`
//   the runs of one job, `agent:<id>` one agent.
// - hx-get, hx-trigger="live", hx-swap: htmx fetches the part again when this script fires `live`
//   on it (a morph keeps focus, scroll and what did not change).
// - data-live-gap (default 500ms): the least time between two of its refreshes; the first change
//   after a quiet spell is fetched at once, the ones in a burst are gathered into the next.
// - data-live-poll (default 5s): how often it is fetched when there is no stream (below).
// - data-live-hold on an element inside it: while it is there the part is not refreshed (the job
//   log, once older entries are loaded into it, keeps what the reader is looking at).
//
// One EventSource per page, opened only when the page has such a part: GET /events (the
// console's door to the tenant's event stream, src/events/console.ts), starting where the page was
// rendered (the layout's <meta name="live-events">), so that a change between the page and its
// stream is not missed. EventSource reconnects by itself with Last-Event-ID (the server replays
// what was missed, or says `reset`: then every part is fetched again). The events carry JSON about
// ids, not HTML: this script decides which parts a change concerns and asks htmx to fetch them,
// rather than htmx's hx-sse extension, which swaps HTML messages or re-dispatches named ones as DOM
// events that only a hx-trigger filter could sort (htmx evaluates filters with Function(), which
// the console's CSP forbids).
//
// Falling back: the stream says `ready` as soon as it is open. When it does not within READY_MS of
// opening or of an error (a proxy that buffers the stream, or errors on every reconnect), or is
// refused (the server answered something else, e.g. the login page), the page polls each part at
// its data-live-poll instead, and tries a stream again after RETRY_MS (doubling up to MAX_RETRY_MS);
// once one is ready, polling stops and every part is fetched once, for what the polls missed.
// <html data-live-state> says which: connecting, streaming or polling.
import htmx from "htmx.org";

const READY_MS = 5000;
const RETRY_MS = 30_000;
const MAX_RETRY_MS = 5 * 60_000;
const GAP_MS = 500;
const POLL_MS = 5000;
/** Events that arrive together (one window of the server's) make one refresh. */
const GATHER_MS = 20;

const PARTS = "[data-live]";

interface Part {
  /** When it was last fetched (performance.now()); 0 for never. */
  last: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** Changed while the tab was hidden: fetched when it is shown again. */
  stale: boolean;
}

const parts = new WeakMap<Element, Part>();

function partOf(el: Element): Part {
  let p = parts.get(el);
  if (!p) parts.set(el, (p = { last: 0, timer: null, stale: false }));
  return p;
}

const interval = (value: string | undefined, fallback: number) => (value ? (htmx.parseInterval(value) ?? fallback) : fallback);

/**
 * Fetches the part again: now, or after its gap since the last time; once, however many changes
 * ask meanwhile. A hidden tab fetches nothing: what changed is fetched once when it is shown.
 */
function refresh(el: HTMLElement): void {
  const p = partOf(el);
  if (document.hidden) {
    p.stale = true;
    return;
  }
  p.stale = false;
  if (p.timer !== null) return;
  const wait = Math.max(GATHER_MS, p.last + interval(el.dataset.liveGap, GAP_MS) - performance.now());
  p.timer = setTimeout(() => {
    p.timer = null;
    if (!el.isConnected || el.querySelector("[data-live-hold]")) return;
    p.last = performance.now();
    htmx.trigger(el, "live", {}, false);
  }, wait);
}

/** Whether the part follows this change: `kind` is job, run or agent; `key` the id, or null for "some of them". */
function follows(el: HTMLElement, kind: string, key: string | null): boolean {
  for (const topic of (el.dataset.live ?? "").split(/\s+/)) {
    if (topic === kind) return true;
    if (topic.startsWith(`${kind}:`) && (key === null || topic === `${kind}:${key}`)) return true;
  }
  return false;
}

function changed(kind: string, key: string | null): void {
  document.querySelectorAll<HTMLElement>(PARTS).forEach((el) => follows(el, kind, key) && refresh(el));
}

function refreshAll(): void {
  document.querySelectorAll<HTMLElement>(PARTS).forEach(refresh);
}

// ---- the stream, and polling without one ----

let source: EventSource | null = null;
let watchdog: ReturnType<typeof setTimeout> | null = null;
let poller: ReturnType<typeof setInterval> | null = null;
let retryIn = RETRY_MS;

const setState = (state: "connecting" | "streaming" | "polling") => (document.documentElement.dataset.liveState = state);

/** Which events concern what, and the field of their data that names it. */
const EVENTS: [event: string, kind: string, field: string][] = [
  ["job", "job", "id"],
  ["job-deleted", "job", "id"],
  ["run", "run", "job_id"],
  ["agent", "agent", "id"],
  ["agent-deleted", "agent", "id"],
];

function keyOf(e: Event, field: string): string | null {
  try {
    const v = (JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>)[field];
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}

/** A stream must say ready within READY_MS from now, or the page polls. */
function expectReady(): void {
  watchdog ??= setTimeout(fallBack, READY_MS);
}

function connect(url: string, catchUp: boolean): void {
  const es = new EventSource(url);
  source = es;
  if (poller === null) setState("connecting");
  expectReady();
  es.addEventListener("ready", () => {
    if (watchdog !== null) clearTimeout(watchdog);
    watchdog = null;
    retryIn = RETRY_MS;
    if (poller !== null) clearInterval(poller);
    poller = null;
    setState("streaming");
    if (catchUp) refreshAll();
    catchUp = false;
  });
  es.addEventListener("error", () => {
    if (es !== source) return;
    // Closed: refused for good (not a stream, or not allowed). Otherwise it reconnects by itself.
    if (es.readyState === EventSource.CLOSED) fallBack();
    else expectReady();
  });
  for (const [event, kind, field] of EVENTS) es.addEventListener(event, (e) => changed(kind, keyOf(e, field)));
  // Runs were left out of a busy window: whatever lists runs fetches its list again.
  es.addEventListener("runs-skipped", () => changed("run", null));
  es.addEventListener("reset", refreshAll);
}

function fallBack(): void {
  if (watchdog !== null) clearTimeout(watchdog);
  watchdog = null;
  source?.close();
  source = null;
  if (poller === null) {
    setState("polling");
    // What changed while the stream was failing is fetched now; then each part at its interval.
    refreshAll();
    poller = setInterval(poll, 1000);
  }
  if (typeof EventSource === "undefined" || !streamUrl) return;
  const url = streamUrl;
  setTimeout(() => connect(url, true), retryIn);
  retryIn = Math.min(retryIn * 2, MAX_RETRY_MS);
}

function poll(): void {
  const now = performance.now();
  document.querySelectorAll<HTMLElement>(PARTS).forEach((el) => now - partOf(el).last >= interval(el.dataset.livePoll, POLL_MS) && refresh(el));
}

/** The stream to retry after a fallback: from now (the page's own position is past), caught up on ready. */
let streamUrl: string | null = null;

function start(): void {
  if (streamUrl !== null || !document.querySelector(PARTS)) return;
  const meta = document.querySelector<HTMLMetaElement>('meta[name="live-events"]');
  if (!meta?.content) return;
  const url = new URL(meta.content, location.href);
  url.searchParams.delete("from");
  streamUrl = url.pathname + url.search;
  if (typeof EventSource === "undefined") fallBack();
  else connect(meta.content, false);
}

// A live part keeps what it shows when a refresh fails (a 404 or 500 page is not swapped into it).
document.addEventListener("htmx:before:swap", (event) => {
  const ctx = (event as CustomEvent<{ ctx: { sourceElement?: Element; response?: { status: number } } }>).detail.ctx;
  if (ctx.sourceElement?.hasAttribute("data-live") && (ctx.response?.status ?? 200) >= 400) event.preventDefault();
});

// After htmx has set the page up (it does so on the next task), so that every part listens.
setTimeout(start);
// Parts that htmx swaps in later (a page of results that had none).
document.addEventListener("htmx:after:swap", start);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) document.querySelectorAll<HTMLElement>(PARTS).forEach((el) => partOf(el).stale && refresh(el));
});
