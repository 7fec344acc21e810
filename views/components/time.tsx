// Times and durations as the console prints them. The server writes UTC (it does not know the
// viewer's zone); public/console.ts rewrites each <time data-local> in the browser's own zone
// and keeps the UTC text as its title. Relative times ("5 min ago") take `now` from the surface.
import { isoTime } from "../../src/time";
import { wallOf } from "../../src/jobs/zone";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** "2026-11-24 13:05" on the wall clock of `tz`. */
export function wallText(ms: number, tz: string, seconds = false): string {
  return new Date(wallOf(ms, tz)).toISOString().slice(0, seconds ? 19 : 16).replace("T", " ");
}

/** The weekday and wall time in `tz`: "Tue 2026-11-24 13:05". */
export function wallDay(ms: number, tz: string): string {
  const wall = new Date(wallOf(ms, tz));
  return `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][wall.getUTCDay()]} ${wall.toISOString().slice(0, 16).replace("T", " ")}`;
}

/** "+01:00": the zone's offset from UTC at that instant. */
export function offsetText(ms: number, tz: string): string {
  const minutes = Math.round((wallOf(ms, tz) - Math.floor(ms / 1000) * 1000) / MIN);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** How far `ms` is from `now`, in words: "just now", "5 min ago", "in 3 h", "2 days ago". */
export function relative(ms: number, now: number): string {
  const d = ms - now;
  const a = Math.abs(d);
  if (a < 45_000) return "just now";
  let text: string;
  if (a < HOUR) text = `${Math.round(a / MIN)} min`;
  else if (a < DAY) text = `${Math.round(a / HOUR)} h`;
  else {
    const days = Math.round(a / DAY);
    text = `${days} ${days === 1 ? "day" : "days"}`;
  }
  return d < 0 ? `${text} ago` : `in ${text}`;
}

/** "2026-11-24 12:00:05 UTC". */
export function utcText(ms: number): string {
  return isoTime(ms).replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min", "3 d 4 h". */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, "")} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  const m = Math.round(s / 60);
  if (m < 1440) return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ""}`;
  const h = Math.round(m / 60);
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ""}`;
}

/** A point in time, localised in the browser; a dash for none. */
export function Time({ at }: { at: number | null | undefined }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  return (
    <time datetime={isoTime(at)} data-local="datetime" safe>
      {utcText(at)}
    </time>
  );
}

/** A point in time with how long ago it was: "2026-11-24 12:00:05 UTC (5 min ago)". */
export function Since({ at, now }: { at: number | null | undefined; now: number }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  return (
    <span class="since">
      <Time at={at} />{" "}
      <span class="muted" safe>
        {`(${relative(at, now)})`}
      </span>
    </span>
  );
}

export function Duration({ ms }: { ms: number | null | undefined }) {
  if (ms === null || ms === undefined) return <span class="muted">—</span>;
  return <span safe>{durationText(ms)}</span>;
}

/** An instant as a relative time, its wall time in `tz` on hover; "never" for none. */
export function When({ ms, now, tz, never = "never" }: { ms: number | null; now: number; tz: string; never?: string }) {
  if (ms === null) return <span class="muted" safe>{never}</span>;
  return (
    <time datetime={new Date(ms).toISOString()} title={`${wallText(ms, tz, true)} ${tz}`} safe>
      {relative(ms, now)}
    </time>
  );
}
