// Time-zone arithmetic, written once: the offset of an IANA zone at an instant, the wall clock
// it shows, and a zone's offset changes over a window of years (for the agent, which must
// know whether two zones keep the same clock and by how much they can differ). Pure; the
// only state is caches of Intl formatters and timelines. Used by the schedule evaluator
// (src/jobs/schedule.ts), the crontab strategy (agent/hostschedule.ts) and the Task Scheduler
// trigger compiler (agent/triggers.ts).

const DAY = 86_400_000;
const CACHE_CAP = 1000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    // Throws RangeError for unknown zones; callers validate with validateTimezone first.
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    if (formatters.size >= CACHE_CAP) formatters.delete(formatters.keys().next().value!);
    formatters.set(tz, f);
  }
  return f;
}

/** The zone's canonical name ("utc" -> "UTC"); throws RangeError for a zone Intl does not know. */
export function canonicalZone(tz: string): string {
  return formatter(tz).resolvedOptions().timeZone;
}

const UTC_NAMES = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT"]);

// The same instants come back across jobs (the day boundaries every cron evaluation looks at, the
// `now` of a batch), and formatToParts is what costs: each zone remembers its last answers.
const WALLS_CAP = 4096;
const walls = new Map<string, Map<number, number>>();

/** The wall-clock time of instant `ms` in `tz`, as if that wall time were UTC (seconds precision). */
export function wallOf(ms: number, tz: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  if (UTC_NAMES.has(tz)) return whole;
  let memo = walls.get(tz);
  const known = memo?.get(whole);
  if (known !== undefined) return known;
  const wall = computeWall(whole, tz);
  if (!memo) {
    if (walls.size >= CACHE_CAP) walls.delete(walls.keys().next().value!);
    walls.set(tz, (memo = new Map()));
  }
  if (memo.size >= WALLS_CAP) memo.delete(memo.keys().next().value!);
  memo.set(whole, wall);
  return wall;
}

function computeWall(whole: number, tz: string): number {
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const part of formatter(tz).formatToParts(whole)) {
    switch (part.type) {
      case "year": y = Number(part.value); break;
      case "month": mo = Number(part.value); break;
      case "day": d = Number(part.value); break;
      case "hour": h = Number(part.value); break;
      case "minute": mi = Number(part.value); break;
      case "second": s = Number(part.value); break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** UTC offset of `tz` at instant `ms`, in ms (east positive). */
export function offsetAt(ms: number, tz: string): number {
  return wallOf(ms, tz) - Math.floor(ms / 1000) * 1000;
}

/** The first instant (to the second) in (lo, hi] whose offset is not `before`, the offset at lo. */
export function offsetChange(lo: number, hi: number, before: number, tz: string): number {
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetAt(mid, tz) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

export interface OffsetChange {
  at: number;
  before: number;
  after: number;
}

/** A zone's offset at the start of a window and its changes inside it. */
export class Timeline {
  constructor(
    readonly tz: string,
    readonly from: number,
    readonly to: number,
    /** Offset (ms) at `from`. */
    readonly first: number,
    readonly changes: readonly OffsetChange[],
  ) {}

  /** The offset at `ms`: a binary search of the changes inside the window, Intl outside it. */
  offsetAt(ms: number): number {
    if (UTC_NAMES.has(this.tz)) return 0;
    if (ms < this.from || ms >= this.to) return offsetAt(ms, this.tz);
    const changes = this.changes;
    let lo = 0;
    let hi = changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (changes[mid]!.at <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.first : changes[lo - 1]!.after;
  }
}

/**
 * The years over which zones are compared: whether they keep the same clock, and which
 * differences between their offsets occur. Each caller names the window it reasons about;
 * timelines are read once per zone and window.
 */
export class ZoneWindow {
  private readonly timelines = new Map<string, Timeline>();

  constructor(
    readonly from: number,
    readonly to: number,
  ) {}

  /** The zone's offset changes in the window, found by sampling daily and bisecting to the second. */
  timeline(tz: string): Timeline {
    const hit = this.timelines.get(tz);
    if (hit) return hit;
    // Comparing "GMT+01:00" labels is twice as fast as computing offsets; only changes need those.
    const label = new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: "longOffset" });
    const offsetOf = (t: string) => t.slice(t.indexOf(","));
    const first = offsetAt(this.from, tz);
    const changes: OffsetChange[] = [];
    let before = offsetOf(label.format(this.from));
    for (let t = this.from + DAY; t <= this.to; t += DAY) {
      const after = offsetOf(label.format(t));
      if (after === before) continue;
      before = after;
      const offsetBefore = offsetAt(t - DAY, tz);
      const at = offsetChange(t - DAY, t, offsetBefore, tz);
      changes.push({ at, before: offsetBefore, after: offsetAt(at, tz) });
    }
    const result = new Timeline(tz, this.from, this.to, first, changes);
    if (this.timelines.size >= CACHE_CAP) this.timelines.delete(this.timelines.keys().next().value!);
    this.timelines.set(tz, result);
    return result;
  }

  /** offsetAt, read from the zone's timeline inside the window: a binary search instead of an Intl call, for code that asks millions of times. */
  offsetAt(ms: number, tz: string): number {
    return this.timeline(tz).offsetAt(ms);
  }

  /** wallOf, read from the zone's timeline inside the window. */
  wallOf(ms: number, tz: string): number {
    return Math.floor(ms / 1000) * 1000 + this.timeline(tz).offsetAt(ms);
  }

  /** Every value of `host`'s offset minus `job`'s at some instant of the window, in ms, ascending. */
  offsetDifferences(jobTz: string, hostTz: string): number[] {
    const job = this.timeline(jobTz);
    const host = this.timeline(hostTz);
    const events = [
      ...job.changes.map((c) => ({ at: c.at, job: true, after: c.after })),
      ...host.changes.map((c) => ({ at: c.at, job: false, after: c.after })),
    ].sort((x, y) => x.at - y.at);
    let jobOffset = job.first;
    let hostOffset = host.first;
    const out = new Set([hostOffset - jobOffset]);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.job) jobOffset = e.after;
      else hostOffset = e.after;
      // Changes at the same instant take effect together.
      if (events[i + 1]?.at !== e.at) out.add(hostOffset - jobOffset);
    }
    return [...out].sort((a, b) => a - b);
  }

  /** Whether two zones keep the same offset at every instant of the window (Europe/Berlin and Europe/Paris do). */
  sameClock(a: string, b: string): boolean {
    if (a === b) return true;
    const diffs = this.offsetDifferences(a, b);
    return diffs.length === 1 && diffs[0] === 0;
  }
}
