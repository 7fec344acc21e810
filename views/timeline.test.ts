// The timeline's drawing, as a pure function of a timeline: a bar sits where its run's times fall
// in the window and is as wide as the run took; the thinnest still shows; and a page at the
// service's bounds (15 jobs of 30 runs) loads in under 150 KB with the console's assets.
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { BUILT_ASSETS } from "../public/build/manifest";
import { TIMELINE_JOBS, TIMELINE_RUNS, type Timeline, type TimelineRow } from "../src/runs/timeline";
import type { Job } from "../src/jobs/types";
import type { Run } from "../src/runs/runs";
import type { Shell } from "./shell";
import { TimelinePage } from "./timeline";

const H = 3_600_000;
const NOW = Date.UTC(2026, 10, 24, 12);
const shell: Shell = { user: { email: "alice@example.com", name: "Alice" }, tenant: { slug: "acme", name: "Acme Inc.", role: "owner" }, tenants: [], csrf: "token", flash: null, path: "/timeline" };

function row(namespace: string, name: string, bars: { id: number; status: string; start: number; end: number }[]): TimelineRow {
  const job = { id: `${namespace}-${name}`, namespace, name, status: "up" } as Job;
  return {
    job,
    bars: bars.map((b) => ({
      start: b.start,
      end: b.end,
      // An instant is a finish reported without its start.
      run: { id: b.id, kind: "success", job, run_id: null, status: b.status, started_at: b.end > b.start ? b.start : null, finished_at: b.end, duration_ms: b.end > b.start ? b.end - b.start : null, exit_code: 0, reason: null, source: null, output_truncated: false } as Run,
    })),
    complete_from: null,
    cut_by: null,
  };
}

const page = (rows: TimelineRow[]) => {
  const timeline: Timeline = { from: NOW - 24 * H, to: NOW, rows, next_cursor: null, max_jobs: TIMELINE_JOBS, max_runs: TIMELINE_RUNS };
  return TimelinePage({ shell, timeline, filters: { namespace: "", label: "", window: "24h", end: "" }, namespaces: [], errors: {}, now: NOW, cursor: "" }) as Promise<string>;
};

describe("the timeline's bars", () => {
  test("sit where their run's times fall in the window, as wide as the run took, each a link to its run", async () => {
    const html = await page([
      row("ops", "backup", [
        { id: 7, status: "success", start: NOW - 18 * H, end: NOW - 12 * H },
        { id: 8, status: "failed", start: NOW - 6 * H, end: NOW - 6 * H },
      ]),
    ]);
    // Six hours from the window's start, six hours long: a quarter of the track, a quarter in.
    expect(html).toContain('<a href="/runs/7"><title>#7 success, Nov 23 18:00 UTC, 6 h</title><path d="M25 8h25v12h-25z"></path></a>');
    // An instant is the thinnest bar, and a failure stands taller.
    expect(html).toContain('<a href="/runs/8" class="failed"><title>#8 failed, Nov 24 06:00 UTC</title><path d="M75 3h0.3v22h-0.3z"></path></a>');
  });

  test("a run begun before the window is cut at its start, one still going at its end", async () => {
    const html = await page([row("ops", "backup", [{ id: 9, status: "running", start: NOW - 30 * H, end: NOW + H }])]);
    expect(html).toContain('<path d="M0 6h100v16h-100z"></path>');
  });

  test("a row cut short says why, and from when it is complete", async () => {
    const cut = (by: "runs" | "history") => page([{ ...row("ops", "heartbeat", []), complete_from: NOW - 2 * H, cut_by: by }]);
    expect(await cut("runs")).toContain(`Only the newest ${TIMELINE_RUNS} runs are drawn: earlier ones, before </span><time datetime="2026-11-24T10:00:00.000Z"`);
    expect(await cut("history")).toContain('Its history after this window is too long to read back to it here: runs before <time datetime="2026-11-24T10:00:00.000Z"');
    expect(await cut("history")).toContain('<a href="/runs?job=ops%2Fheartbeat">All its runs</a>');
  });

  test("a page at the service's bounds loads in under 150 KB with the console's script and styles", async () => {
    const rows = Array.from({ length: TIMELINE_JOBS }, (_, j) =>
      row(
        `namespace-${j}`,
        `a-rather-long-job-name-${j}`,
        Array.from({ length: TIMELINE_RUNS }, (_, i) => ({ id: 10_000_000 + j * 100 + i, status: i % 7 ? "success" : "failed", start: NOW - 24 * H + i * 47 * 60_000, end: NOW - 24 * H + i * 47 * 60_000 + 754_000 })),
      ),
    );
    const html = await page(rows);
    expect(html.match(/<a href="\/runs\//g)).toHaveLength(TIMELINE_JOBS * TIMELINE_RUNS);
    const assets = (["console.js", "console.css", "favicon.svg"] as const).reduce((n, name) => n + statSync(BUILT_ASSETS[name].path).size, 0);
    expect(Buffer.byteLength(html) + assets).toBeLessThan(150 * 1024);
  });
});
