// A job's recent runs as server-rendered SVG (no chart library, no script): the duration of each of
// the last 100 runs as bars, and the outcome of the last 50 as a strip of shapes. Colours come from
// console.css classes (the CSP allows no inline style); each outcome also has its own shape, and
// every mark its tooltip, so neither colour nor hover is needed to read them.
import type { Run } from "../../src/runs/runs";
import { durationText, wallText } from "./time";

const OUTCOMES = ["success", "failed", "timeout", "running"] as const;
const WORDS: Record<string, string> = { success: "succeeded", failed: "failed", timeout: "timed out", running: "running" };

function tip(run: Run, tz: string): string {
  const at = run.finished_at ?? run.started_at;
  const parts = [WORDS[run.status] ?? run.status, at === null ? null : `${wallText(at, tz, true)} ${tz}`];
  if (run.duration_ms !== null) parts.push(durationText(run.duration_ms));
  if (run.exit_code !== null) parts.push(`exit ${run.exit_code}`);
  return parts.filter(Boolean).join(" · ");
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
};

/** Bars for the durations of `runs` (newest first), the newest on the right; runs without a start show as a dot. */
export function DurationChart({ runs, tz, slots = 100 }: { runs: Run[]; tz: string; slots?: number }) {
  const shown = runs.slice(0, slots).reverse();
  const durations = shown.map((r) => r.duration_ms).filter((d): d is number => d !== null);
  const max = Math.max(1, ...durations);
  const W = 10;
  const H = 100;
  const offset = slots - shown.length;
  const runsText = shown.length === 1 ? "the one run" : `the last ${shown.length} runs`;
  const label = durations.length
    ? `Durations of ${runsText}: median ${durationText(median(durations))}, longest ${durationText(max)}${durations.length < shown.length ? `; ${shown.length - durations.length} without a start signal` : ""}.`
    : `No start signal in ${runsText}, so no duration to show.`;
  return (
    <figure class="chart">
      <svg class="duration-chart" viewBox={`0 0 ${slots * W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
        <line class="axis" x1="0" y1={String(H - 0.5)} x2={String(slots * W)} y2={String(H - 0.5)} />
        {shown.map((run, i) => {
          const x = (offset + i) * W + 1.5;
          if (run.duration_ms === null) {
            return (
              <rect class={`bar bar-none run-${run.status}`} x={String(x)} y={String(H - 3)} width="7" height="3">
                <title safe>{tip(run, tz)}</title>
              </rect>
            );
          }
          const h = Math.max(2, (run.duration_ms / max) * (H - 4));
          return (
            <rect class={`bar run-${run.status}`} x={String(x)} y={String(H - h)} width="7" height={String(h)}>
              <title safe>{tip(run, tz)}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption class="muted" safe>
        {label}
      </figcaption>
    </figure>
  );
}

/** One mark of the strip: a bar for a success, a downward triangle for a failure, a diamond for a timeout, a ring while running. */
function Mark({ run, x, tz }: { run: Run; x: number; tz: string }) {
  const cls = `mark run-${run.status}`;
  const title = <title safe>{tip(run, tz)}</title>;
  switch (run.status) {
    case "failed":
      return (
        <polygon class={cls} points={`${x + 1},4 ${x + 9},4 ${x + 5},20`}>
          {title}
        </polygon>
      );
    case "timeout":
      return (
        <polygon class={cls} points={`${x + 5},3 ${x + 9.5},12 ${x + 5},21 ${x + 0.5},12`}>
          {title}
        </polygon>
      );
    case "running":
      return (
        <circle class={`${cls} ring`} cx={String(x + 5)} cy="12" r="3.5">
          {title}
        </circle>
      );
    default:
      return (
        <rect class={cls} x={String(x + 1.5)} y="3" width="7" height="18" rx="1">
          {title}
        </rect>
      );
  }
}

/** The outcomes of the last `slots` runs (newest first in `runs`), the newest on the right. */
export function StatusStrip({ runs, tz, slots = 50 }: { runs: Run[]; tz: string; slots?: number }) {
  const shown = runs.slice(0, slots).reverse();
  const counts = OUTCOMES.map((o) => [o, shown.filter((r) => r.status === o).length] as const).filter(([, n]) => n > 0);
  const label = shown.length ? `${shown.length === 1 ? "The one run" : `The last ${shown.length} runs`}: ${counts.map(([o, n]) => `${n} ${WORDS[o]}`).join(", ")}.` : "No runs yet.";
  const offset = slots - shown.length;
  return (
    <figure class="chart">
      <svg class="status-strip" viewBox={`0 0 ${slots * 10} 24`} role="img" aria-label={label}>
        {shown.map((run, i) => (
          <Mark run={run} x={(offset + i) * 10} tz={tz} />
        ))}
      </svg>
      <figcaption class="muted" safe>
        {label}
      </figcaption>
    </figure>
  );
}

/** What the shapes and colours of both charts mean. */
export function RunLegend() {
  return (
    <ul class="legend" aria-label="Legend">
      {OUTCOMES.map((o) => (
        <li class={`legend-${o}`} safe>
          {WORDS[o]!}
        </li>
      ))}
    </ul>
  );
}
