// The timeline (GET /timeline): the runs of many jobs over one window as bars on one time axis,
// a row per job, drawn as server-side SVG (no chart library, no script needed): overlaps, gaps and
// slow nights show at a glance, and each bar is a link to its run. Bars are placed in percent of
// the track, so the same markup fits a phone and a wide screen.
import type { Timeline, TimelineBar, TimelineRow } from "../src/runs/timeline";
import { Layout } from "./layout";
import { StatusBadge } from "./components/status";
import { SelectField } from "./components/select";
import { durationText, Time, utcText } from "./components/time";
import { Field, type FieldErrors } from "./components/form";
import type { Shell } from "./shell";

/** The windows the timeline offers: URL value, words, length. */
export const TIMELINE_WINDOWS = [
  ["1h", "1 hour", 3_600_000],
  ["6h", "6 hours", 6 * 3_600_000],
  ["24h", "24 hours", 24 * 3_600_000],
  ["3d", "3 days", 3 * 86_400_000],
  ["7d", "7 days", 7 * 86_400_000],
] as const;
export const DEFAULT_TIMELINE_WINDOW = "24h";

export interface TimelineFilters {
  namespace: string;
  label: string;
  window: string;
  /** The window's end as the URL gives it ("" for now). */
  end: string;
}

export function timelineHref(f: TimelineFilters, cursor?: string | null): string {
  const q = new URLSearchParams();
  if (f.namespace) q.set("namespace", f.namespace);
  if (f.label) q.set("label", f.label);
  if (f.window && f.window !== DEFAULT_TIMELINE_WINDOW) q.set("window", f.window);
  if (f.end) q.set("end", f.end);
  if (cursor) q.set("cursor", cursor);
  const s = q.toString();
  return s ? `/timeline?${s}` : "/timeline";
}

/** A time as the timeline's URL carries it: ISO 8601 to the second. */
export const endParam = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

const TRACK_HEIGHT = 28;
/** Tick steps, the shortest that gives at most 8 ticks is used. */
const STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60_000);

interface Tick {
  at: number;
  x: number;
  label: string;
}

function ticksOf(from: number, to: number): { ticks: Tick[]; step: number } {
  const span = to - from;
  const step = STEPS.find((s) => span / s <= 8) ?? STEPS[STEPS.length - 1]!;
  const ticks: Tick[] = [];
  for (let at = Math.ceil(from / step) * step; at <= to; at += step) {
    const text = utcText(at);
    // Days and longer: the date; shorter steps: the time of day.
    const label = step >= 86_400_000 ? text.slice(5, 10) : text.slice(11, 16);
    ticks.push({ at, x: ((at - from) / span) * 100, label });
  }
  return { ticks, step };
}

const pct = (v: number) => `${v.toFixed(3)}%`;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** "Dec 2 16:41 UTC": a bar's start in its title, short since a page holds hundreds. */
function shortUtc(ms: number): string {
  const d = new Date(ms);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${utcText(ms).slice(11, 16)} UTC`;
}
/** A position on a track, whose view box is 100 wide: a percent of the window. */
const unit = (v: number) => String(Math.round(v * 100) / 100);
/** The thinnest bar drawn (an instant, or a run too short to see): a third of a percent of the track, widened by its outline. */
const MIN_WIDTH = 0.3;

/** Failed and timed-out runs stand taller than successes, a run still going sits between: status by shape as well as colour. */
const HEIGHT: Record<string, [number, number]> = { success: [8, 12], running: [6, 16], failed: [3, 22], timeout: [3, 22] };

/**
 * A run as a bar: a link to it, its words in its title (the tooltip, and the link's name). Kept
 * short, since a page can hold a thousand of them: the class is the run's status.
 */
function Bar({ bar, from, to }: { bar: TimelineBar; from: number; to: number }) {
  const span = to - from;
  const x0 = Math.max(0, Math.min(100, ((bar.start - from) / span) * 100));
  const x1 = Math.max(0, Math.min(100, ((bar.end - from) / span) * 100));
  const w = Math.max(MIN_WIDTH, x1 - x0);
  const [y, h] = HEIGHT[bar.run.status] ?? [8, 12];
  const { run } = bar;
  const how = run.duration_ms !== null ? durationText(run.duration_ms) : run.status === "running" ? `running for ${durationText(bar.end - bar.start)}` : null;
  const what = [`#${run.id} ${run.status}`, shortUtc(bar.start), how, run.exit_code !== null && run.exit_code !== 0 ? `exit code ${run.exit_code}` : null].filter(Boolean).join(", ");
  return (
    <a href={`/runs/${run.id}`} class={run.status === "success" ? undefined : run.status}>
      <title safe>{what}</title>
      {/* A rectangle as a path: the shortest markup for it. */}
      <path d={`M${unit(Math.min(x0, 100 - w))} ${y}h${unit(w)}v${h}h-${unit(w)}z`}></path>
    </a>
  );
}

function Row({ row, from, to, now, ticks, maxRuns }: { row: TimelineRow; from: number; to: number; now: number; ticks: Tick[]; maxRuns: number }) {
  const name = `${row.job.namespace}/${row.job.name}`;
  const n = row.bars.length;
  const nowX = now > from && now < to ? ((now - from) / (to - from)) * 100 : null;
  return (
    <li class="tl-row">
      <div class="tl-label">
        <a class="tl-job" href={`/jobs/${encodeURIComponent(row.job.namespace)}/${encodeURIComponent(row.job.name)}`} safe>
          {name}
        </a>
        <StatusBadge status={row.job.status} />
        <span class="tl-count muted" safe>
          {n === 0 ? "no runs" : n === 1 ? "1 run" : `${n} runs`}
        </span>
      </div>
      {/* The view box is the window: 100 wide, stretched to the track; strokes keep their width (console CSS). */}
      <svg
        class="tl-track"
        width="100%"
        height={String(TRACK_HEIGHT)}
        viewBox={`0 0 100 ${TRACK_HEIGHT}`}
        preserveAspectRatio="none"
        role="group"
        aria-label={`Runs of ${name} in this window: ${n}`}
      >
        <path class="tl-grid" d={ticks.map((t) => `M${unit(t.x)} 0V${TRACK_HEIGHT}`).join("")}></path>
        {nowX !== null ? <line class="tl-now" x1={unit(nowX)} x2={unit(nowX)} y1="0" y2={String(TRACK_HEIGHT)}></line> : null}
        {row.bars.map((bar) => (
          <Bar bar={bar} from={from} to={to} />
        ))}
      </svg>
      {row.complete_from !== null ? (
        <p class="tl-note muted">
          {row.cut_by === "runs" ? (
            <>
              <span safe>{`Only the newest ${maxRuns} runs are drawn: earlier ones, before `}</span>
              <Time at={row.complete_from} />, are left out.
            </>
          ) : (
            <>
              Its history after this window is too long to read back to it here: runs before <Time at={row.complete_from} /> are left out.
            </>
          )}{" "}
          <a href={`/runs?job=${encodeURIComponent(name)}`}>All its runs</a>
        </p>
      ) : null}
    </li>
  );
}

function Axis({ ticks, step }: { ticks: Tick[]; step: number }) {
  return (
    <div class="tl-axis" aria-hidden="true">
      <div class="tl-label"></div>
      <svg class="tl-track tl-ticks" width="100%" height="20">
        {ticks.map((t) => (
          <text x={pct(t.x)} y="14" text-anchor={t.x < 4 ? "start" : t.x > 96 ? "end" : "middle"} data-tick={String(t.at)} data-step={String(step)} safe>
            {t.label}
          </text>
        ))}
      </svg>
    </div>
  );
}

function Filters({ filters, namespaces, errors }: { filters: TimelineFilters; namespaces: string[]; errors: FieldErrors }) {
  return (
    <form class="filters panel" method="get" action="/timeline" data-autosubmit role="search" aria-label="Filter the timeline">
      <SelectField name="namespace" label="Namespace" value={filters.namespace} options={[["", "Any"], ...namespaces.map((n) => [n, n] as const)]} error={errors.namespace} />
      <Field name="label" label="Label" value={filters.label} placeholder="key=value" error={errors.label} />
      <SelectField name="window" label="Window" value={filters.window} options={TIMELINE_WINDOWS.map(([v, text]) => [v, text] as const)} error={errors.window} />
      {filters.end ? <input type="hidden" name="end" value={filters.end} /> : null}
      <div class="filter-actions">
        <button type="submit">Show</button>
        <a class="button button-quiet" href="/timeline">
          Clear
        </a>
      </div>
    </form>
  );
}

function Legend() {
  return (
    <ul class="tl-legend" aria-label="Legend">
      {(["success", "failed", "timeout", "running"] as const).map((s) => (
        <li>
          <svg width="14" height="14" aria-hidden="true" class={s === "success" ? "tl-key" : `tl-key ${s}`}>
            <rect x="1" y={s === "success" ? "4" : s === "running" ? "3" : "1"} width="12" height={s === "success" ? "6" : s === "running" ? "8" : "12"} rx="1.5" />
          </svg>
          <span>{s}</span>
        </li>
      ))}
    </ul>
  );
}

export function TimelinePage(p: { shell: Shell; timeline: Timeline; filters: TimelineFilters; namespaces: string[]; errors: FieldErrors; now: number; cursor: string }) {
  const { timeline: t, filters, now } = p;
  const { ticks, step } = ticksOf(t.from, t.to);
  const length = t.to - t.from;
  const earlier = { ...filters, end: endParam(t.from) };
  const laterEnd = t.to + length;
  // A window that would end within a minute of now is the current one: it follows now.
  const later = { ...filters, end: laterEnd >= now - 60_000 ? "" : endParam(laterEnd) };
  return (
    <Layout shell={p.shell} title="Timeline">
      <div class="page-head">
        <h1>Timeline</h1>
        <span class="muted">
          <Time at={t.from} /> to <Time at={t.to} />
        </span>
      </div>
      <Filters filters={filters} namespaces={p.namespaces} errors={p.errors} />
      <nav class="pager" aria-label="Move the window">
        <a href={timelineHref(earlier)}>← Earlier</a>
        {filters.end ? <a href={timelineHref(later)}>Later →</a> : null}
        {filters.end ? <a href={timelineHref({ ...filters, end: "" })}>Now</a> : null}
      </nav>
      {t.rows.length ? (
        <section class="timeline panel" aria-label="Runs by job on one time axis">
          <div class="tl-head">
            <Legend />
            <span class="tl-zone muted" data-zone>
              Times in UTC
            </span>
          </div>
          <Axis ticks={ticks} step={step} />
          <ol class="tl-rows">
            {t.rows.map((row) => (
              <Row row={row} from={t.from} to={t.to} now={now} ticks={ticks} maxRuns={t.max_runs} />
            ))}
          </ol>
          <Axis ticks={ticks} step={step} />
        </section>
      ) : (
        <div class="panel empty">
          <p>{p.cursor ? "No more jobs match." : filters.namespace || filters.label ? "No jobs match." : "No jobs yet."}</p>
        </div>
      )}
      <p class="muted tl-bounds" safe>
        {`At most ${t.max_jobs} jobs a page (by namespace and name), and the newest ${t.max_runs} runs of each in the window.`}
      </p>
      {p.cursor || t.next_cursor ? (
        <nav class="pager" aria-label="Pages of jobs">
          {p.cursor ? <a href={timelineHref(filters)}>First jobs</a> : null}
          {t.next_cursor ? (
            <a href={timelineHref(filters, t.next_cursor)} rel="next">
              Next jobs
            </a>
          ) : null}
        </nav>
      ) : null}
    </Layout>
  );
}
