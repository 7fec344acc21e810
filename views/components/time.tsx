// Times and durations as the console prints them. The server writes UTC (it does not know the
// viewer's zone); public/console.ts rewrites each <time data-local> in the browser's own zone
// and keeps the UTC text as its title. Relative times ("5 min ago") take `now` from the surface.
import { isoTime } from "../../src/time";

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

/** "just now", "5 min ago", "3 h ago", "2 d ago" (or "in 5 min" for a time ahead). */
export function agoText(ms: number, now: number): string {
  const d = now - ms;
  if (Math.abs(d) < 60_000) return "just now";
  const abs = Math.abs(d);
  const text = abs < 3_600_000 ? `${Math.floor(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.floor(abs / 3_600_000)} h` : `${Math.floor(abs / 86_400_000)} d`;
  return d > 0 ? `${text} ago` : `in ${text}`;
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
        {`(${agoText(at, now)})`}
      </span>
    </span>
  );
}

export function Duration({ ms }: { ms: number | null | undefined }) {
  if (ms === null || ms === undefined) return <span class="muted">—</span>;
  return <span safe>{durationText(ms)}</span>;
}
