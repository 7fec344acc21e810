// The runs across the tenant's jobs (GET /runs: filters in the URL, cursor pages) and one run
// (GET /runs/<id>: its facts and its output in a monospace viewer, the head/tail cut marked).
import type { Run, RunPage } from "../src/runs/runs";
import { RUN_STATUSES } from "../src/runs/runs";
import { splitAtCut } from "../src/headtail";
import { Layout } from "./layout";
import { RunStatus } from "./components/runstatus";
import { live } from "./components/live";
import { SelectField } from "./components/select";
import { Duration, Since, Time } from "./components/time";
import { Field, type FieldErrors } from "./components/form";
import type { Shell } from "./shell";

/** The time windows the runs list offers, as URL values and words. */
export const RUN_WINDOWS = [
  ["", "Any time", 0],
  ["1h", "Last hour", 3_600_000],
  ["24h", "Last 24 hours", 86_400_000],
  ["7d", "Last 7 days", 7 * 86_400_000],
  ["30d", "Last 30 days", 30 * 86_400_000],
] as const;

/** The runs list's filters as the URL carries them ("" for none). */
export interface RunFilters {
  job: string;
  namespace: string;
  status: string;
  window: string;
}

/** /runs with these filters (and a cursor): empty ones left out, so a link reads as what it shows. */
export function runsHref(f: RunFilters, cursor?: string | null): string {
  const q = new URLSearchParams();
  for (const k of ["job", "namespace", "status", "window"] as const) if (f[k]) q.set(k, f[k]);
  if (cursor) q.set("cursor", cursor);
  const s = q.toString();
  return s ? `/runs?${s}` : "/runs";
}

const jobName = (run: Run) => `${run.job.namespace}/${run.job.name}`;
const jobHref = (run: Run) => `/jobs/${encodeURIComponent(run.job.namespace)}/${encodeURIComponent(run.job.name)}`;

function Filters({ filters, namespaces, errors }: { filters: RunFilters; namespaces: string[]; errors: FieldErrors }) {
  return (
    <form class="filters panel" method="get" action="/runs" data-autosubmit role="search" aria-label="Filter runs">
      <Field name="job" label="Job" value={filters.job} placeholder="namespace/name" error={errors.job} />
      <SelectField name="namespace" label="Namespace" value={filters.namespace} options={[["", "Any"], ...namespaces.map((n) => [n, n] as const)]} error={errors.namespace} />
      <SelectField name="status" label="Status" value={filters.status} options={[["", "Any"], ...RUN_STATUSES.map((s) => [s, s] as const)]} error={errors.status} />
      <SelectField name="window" label="When" value={filters.window} options={RUN_WINDOWS.map(([v, text]) => [v, text] as const)} error={errors.window} />
      <div class="filter-actions">
        <button type="submit">Filter</button>
        <a class="button button-quiet" href="/runs">
          Clear
        </a>
      </div>
    </form>
  );
}

/** The table of runs: the page's, and the dashboard's recent ones. */
export function RunsTable({ runs, caption }: { runs: Run[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="data-table runs-table">
        <caption class="visually-hidden" safe>
          {caption}
        </caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Job</th>
            <th scope="col">When</th>
            <th scope="col">Duration</th>
            <th scope="col">Exit</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr>
              <td>
                <a class="run-link" href={`/runs/${run.id}`}>
                  <RunStatus status={run.status} />
                  <span safe>{`#${run.id}`}</span>
                </a>
              </td>
              <td>
                <a href={jobHref(run)} safe>
                  {jobName(run)}
                </a>
              </td>
              <td data-label="When">
                <Time at={run.started_at ?? run.finished_at} />
              </td>
              <td data-label="Duration">
                <Duration ms={run.duration_ms} />
              </td>
              <td class="num" data-label="Exit" safe>
                {run.exit_code === null ? "—" : String(run.exit_code)}
              </td>
              <td class="source" data-label="Source" safe>
                {run.source ?? "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export interface RunsResultsProps {
  filters: RunFilters;
  page: RunPage;
  cursor: string;
  /** The job the `job` filter names (its runs are the ones the list follows); undefined for none. */
  jobId?: string;
  /** Follow new runs (public/live.ts): the first page of a valid filter only. */
  live: boolean;
}

/**
 * The table (or why it is empty) and the pager: the page's, and the answer to its live refresh.
 * The first page follows new runs (those of the filtered job, or of every job) at most once a
 * second, every 10 s without a stream; an older page stays as it is.
 */
export function RunsResults({ filters, page, cursor, jobId, live: follows }: RunsResultsProps) {
  const filtered = Object.values(filters).some(Boolean);
  return (
    <div id="runs-results" {...(follows ? live(runsHref(filters), jobId ? `run:${jobId}` : "run", { gap: "1s", poll: "10s" }) : {})}>
      {page.runs.length ? (
        <RunsTable runs={page.runs} caption={filtered ? "Runs that match the filters, newest first" : "Runs, newest first"} />
      ) : (
        <div class="panel empty">
          <p>{page.next_cursor ? "None in this stretch of the history; older runs may match." : filtered || cursor ? "No runs match." : "No runs yet."}</p>
        </div>
      )}
      {cursor || page.next_cursor ? (
        <nav class="pager" aria-label="Pages of runs">
          {cursor ? <a href={runsHref(filters)}>Newest</a> : null}
          {page.next_cursor ? (
            <a href={runsHref(filters, page.next_cursor)} rel="next">
              Older runs
            </a>
          ) : null}
        </nav>
      ) : null}
    </div>
  );
}

export function RunsPage(p: { shell: Shell; namespaces: string[]; errors: FieldErrors } & RunsResultsProps) {
  const { filters } = p;
  return (
    <Layout shell={p.shell} title="Runs">
      <div class="page-head">
        <h1>Runs</h1>
        <a href={timelineHrefFor(filters)}>On the timeline</a>
      </div>
      <Filters filters={filters} namespaces={p.namespaces} errors={p.errors} />
      <RunsResults filters={filters} page={p.page} cursor={p.cursor} jobId={p.jobId} live={p.live} />
    </Layout>
  );
}

function timelineHrefFor(f: RunFilters): string {
  return f.namespace ? `/timeline?namespace=${encodeURIComponent(f.namespace)}` : "/timeline";
}

/** The output, escaped, with the cut between its head and tail marked where the server cut it. */
export function OutputViewer({ output, truncated }: { output: string; truncated: boolean }) {
  const cut = truncated ? splitAtCut(output) : null;
  return (
    <pre class="output" tabindex="0" aria-label="Output">
      {cut ? (
        <>
          <span safe>{cut.head}</span>
          <span class="cut" role="separator" safe>
            {`… ${cut.dropped.toLocaleString("en")} bytes cut: the output kept is its head and its tail …`}
          </span>
          <span safe>{cut.tail}</span>
        </>
      ) : (
        <span safe>{output}</span>
      )}
    </pre>
  );
}

export function RunDetailPage({ shell, run, now }: { shell: Shell; run: Run; now: number }) {
  const title = `Run #${run.id}`;
  const output = run.output ?? null;
  return (
    <Layout shell={shell} title={`${title} · ${jobName(run)}`}>
      <p class="crumbs">
        <a href="/runs">Runs</a> ›{" "}
        <a href={runsHref({ job: jobName(run), namespace: "", status: "", window: "" })} safe>
          {jobName(run)}
        </a>
      </p>
      <div class="page-head">
        <h1 safe>{title}</h1>
        <RunStatus status={run.status} />
      </div>
      <div class="panel">
        <dl class="facts">
          <div>
            <dt>Job</dt>
            <dd>
              <a href={jobHref(run)} safe>
                {jobName(run)}
              </a>
            </dd>
          </div>
          <div>
            <dt>Status</dt>
            <dd safe>{run.reason ? `${run.status}: ${run.reason}` : run.status}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              <Since at={run.started_at} now={now} />
            </dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>{run.finished_at === null && run.status === "running" ? <span>still running</span> : <Since at={run.finished_at} now={now} />}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>
              <Duration ms={run.duration_ms} />
            </dd>
          </div>
          <div>
            <dt>Exit code</dt>
            <dd safe>{run.exit_code === null ? "—" : String(run.exit_code)}</dd>
          </div>
          <div>
            <dt>Host / source</dt>
            <dd class="source" safe>
              {run.source ?? "—"}
            </dd>
          </div>
          {run.run_id ? (
            <div>
              <dt>Run ID</dt>
              <dd>
                <code safe>{run.run_id}</code>
              </dd>
            </div>
          ) : null}
        </dl>
      </div>
      <section class="panel" aria-labelledby="output-title">
        <div class="section-head">
          <h2 id="output-title">Output</h2>
          {output !== null ? (
            <a class="button button-quiet button-small" href={`/runs/${run.id}/output`} download="">
              Download
            </a>
          ) : null}
        </div>
        {run.output_truncated ? <p class="muted">The output was longer than the server keeps: its head and its tail are kept, and the cut is marked below.</p> : null}
        {output !== null ? <OutputViewer output={output} truncated={run.output_truncated} /> : <p class="muted">No output was sent with this run.</p>}
      </section>
    </Layout>
  );
}
