// A job's page, /jobs/<namespace>/<name> (the URL alerts carry): its status and since when (the
// first data-job-status on the page), the schedule in words and its next runs in the job's zone,
// the ping URLs with snippets to copy, its recent runs as SVG, uptime per month, the run log with
// the status changes between runs, the agents it goes to, and pause / resume / edit / delete.
import type { Job } from "../src/jobs/jobs";
import type { Run } from "../src/runs/runs";
import type { JobLogPage, LogEntry } from "../src/runs/history";
import type { MonthUptime } from "../src/runs/uptime";
import type { JobAgent } from "../src/agents/model";
import type { JobSource } from "../src/errors";
import { forgeCommitUrl } from "../src/gitops/forge";
import { FileRef, RepoLink } from "./gitops";
import { formatDuration } from "../src/jobs/schedule";
import { Layout } from "./layout";
import { CsrfField } from "./components/form";
import { StatusBadge } from "./components/status";
import { live } from "./components/live";
import { DurationChart, RunLegend, StatusStrip } from "./components/charts";
import { durationText, offsetText, wallDay, wallText, When } from "./components/time";
import { LabelChip } from "./jobs";
import type { Shell } from "./shell";

/** Where the job is pinged: its own token URL, and its slug URL under the tenant's ping key (when the slug reaches it). */
export interface PingUrls {
  /** The server's ping base: https://cron.example.com/ping */
  base: string;
  token: string;
  url: string;
  slug: { key: string; slug: string; url: string; success: string } | null;
}

/** The run log's page and the latest output: the part of a job's page that follows its runs. */
export interface JobHistory {
  log: JobLogPage;
  /** The newest finished run and the end of its output (the rest is on the run's page). */
  latest: { run: Run; output: string | null; cut: boolean } | null;
}

export interface JobView extends JobHistory {
  job: Job;
  now: number;
  schedule: { description: string; next: number[] };
  ping: PingUrls;
  /** The newest 100 runs, newest first. */
  runs: Run[];
  uptime: MonthUptime[];
  agents: JobAgent[];
  canWrite: boolean;
  /** A job from Git: its source, and whether write-back lets the console edit it. Null for other jobs. */
  git: { source: JobSource; writeBack: boolean } | null;
}

const jobPath = (job: Pick<Job, "namespace" | "name">) => `/jobs/${job.namespace}/${job.name}`;

/** The status and what it rests on: a live part that follows the job's own events. */
export function JobLive({ job, now }: { job: Job; now: number }) {
  return (
    <section id="job-live" class="job-live" aria-label="Status" {...live(`${jobPath(job)}/live`, `job:${job.id}`, { poll: "5s" })}>
      <div class="job-status-line">
        <StatusBadge status={job.status} />
        <span>
          {"since "}
          <When ms={job.status_since} now={now} tz={job.timezone} never="its creation" />
        </span>
      </div>
      <dl class="facts">
        <div>
          <dt>Last check-in</dt>
          <dd>
            <When ms={job.last_ping_at} now={now} tz={job.timezone} />
          </dd>
        </div>
        <div>
          <dt>Expected</dt>
          <dd>{job.paused ? <span class="muted">not while paused</span> : <When ms={job.expected_at} now={now} tz={job.timezone} never="not yet" />}</dd>
        </div>
        <div>
          <dt>Last duration</dt>
          <dd safe>{job.last_duration_ms === null ? "—" : durationText(job.last_duration_ms)}</dd>
        </div>
        <div>
          <dt>Failures in a row</dt>
          <dd safe>{String(job.consecutive_failures)}</dd>
        </div>
        <div>
          <dt>Check-ins</dt>
          <dd safe>{String(job.checkins_total)}</dd>
        </div>
      </dl>
    </section>
  );
}

/** Edit and Delete, unless Git manages the job without write-back; Pause and Resume always (a runtime override of a git-managed job). */
function Actions({ job, csrf, editable }: { job: Job; csrf: string; editable: boolean }) {
  const path = jobPath(job);
  return (
    <div class="actions">
      {editable ? (
        <a class="button button-quiet" href={`${path}/edit`}>
          Edit
        </a>
      ) : null}
      <form method="post" action={`${path}/${job.paused ? "resume" : "pause"}`} class="inline-form">
        <CsrfField token={csrf} />
        <button type="submit" class="button-quiet">
          {job.paused ? "Resume" : "Pause"}
        </button>
      </form>
      {editable ? (
        <a class="button button-quiet button-danger-quiet" href={`${path}/delete`}>
          Delete…
        </a>
      ) : (
        <span class="muted git-managed">
          Managed by Git: change it in the <a href="#job-source">repository</a>.
        </span>
      )}
    </div>
  );
}

/** Where a git-managed job comes from: the repository, its file and the commit that last wrote it, linked on the forge where the remote allows. */
function Source({ job, git }: { job: Job; git: NonNullable<JobView["git"]> }) {
  const { source } = git;
  const commitHref = source.commit ? forgeCommitUrl(source.repository, source.commit) : null;
  return (
    <section id="job-source" class="panel" aria-labelledby="source-title">
      <h2 id="source-title">Managed by Git</h2>
      <p class="git-note">
        {git.writeBack
          ? "Edits here are committed to the repository and pushed (write back), then applied by the sync of that commit."
          : "Change it in the repository: its manifest is the job, and a sync applies each commit. Edit and Delete are not offered here."}
      </p>
      <dl class="facts">
        <div>
          <dt>Repository</dt>
          <dd>
            <RepoLink url={source.repository} />
          </dd>
        </div>
        <div>
          <dt>Path</dt>
          <dd>
            <FileRef url={source.repository} commit={source.commit} path={source.path} />
          </dd>
        </div>
        <div>
          <dt>Commit</dt>
          <dd>
            {!source.commit ? (
              <span class="muted">—</span>
            ) : commitHref ? (
              <a href={commitHref} class="mono" title={source.commit} safe>
                {source.commit.slice(0, 12)}
              </a>
            ) : (
              <code title={source.commit} safe>
                {source.commit.slice(0, 12)}
              </code>
            )}
          </dd>
        </div>
      </dl>
      {job.paused ? <p class="muted">Paused here: a runtime override, which a sync does not undo. Resume it here too.</p> : null}
    </section>
  );
}

function Schedule({ view }: { view: JobView }) {
  const { job, schedule } = view;
  return (
    <section class="panel" aria-labelledby="schedule-title">
      <h2 id="schedule-title">Schedule</h2>
      <p>
        <code safe>{job.schedule}</code> <span safe>{schedule.description}</span>
      </p>
      <dl class="facts">
        <div>
          <dt>Time zone</dt>
          <dd safe>{job.timezone}</dd>
        </div>
        <div>
          <dt>Grace</dt>
          <dd safe>{formatDuration(job.grace_s)}</dd>
        </div>
        <div>
          <dt>Timeout</dt>
          <dd safe>{job.timeout_s === null ? "none" : formatDuration(job.timeout_s)}</dd>
        </div>
        <div>
          <dt>Alert after</dt>
          <dd safe>{`${job.alert_after} ${job.alert_after === 1 ? "failure" : "failures in a row"}`}</dd>
        </div>
      </dl>
      <h3>Next runs</h3>
      {job.paused ? <p class="muted">Paused: the schedule is kept, nothing is expected until it resumes.</p> : null}
      <ol class="next-runs">
        {schedule.next.map((ms) => (
          <li>
            <time datetime={new Date(ms).toISOString()} safe>
              {`${wallDay(ms, job.timezone)} (${job.timezone}, ${offsetText(ms, job.timezone)})`}
            </time>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** A snippet to copy: a labelled block of code and a copy button (shown by the script). */
function Snippet({ id, title, text, open }: { id: string; title: string; text: string; open?: boolean }) {
  return (
    <details class="snippet" open={open}>
      <summary safe>{title}</summary>
      <div class="copyable">
        <pre id={id}>
          <code safe>{text}</code>
        </pre>
        <button type="button" class="button-quiet button-small copy" data-copy={`#${id}`} hidden>
          Copy
        </button>
      </div>
    </details>
  );
}

/** A crontab line's time fields: the job's own, or a stand-in for a schedule cron cannot express. */
function crontabTimes(job: Job): string {
  return job.schedule.startsWith("@every") ? "*/5 * * * *" : job.schedule;
}

function Ping({ view }: { view: JobView }) {
  const { job, ping } = view;
  const url = ping.url;
  const command = job.command ?? "/path/to/command";
  const times = crontabTimes(job);
  const zoneNote = job.timezone === "UTC" ? "" : `# The schedule is in ${job.timezone}: run cron in that zone (or set CRON_TZ=${job.timezone} where cron supports it).\n`;
  const everyNote = job.schedule.startsWith("@every") ? `# ${job.schedule} is not a crontab schedule: put the times that match it here.\n` : "";
  const log = `/tmp/${job.name}.log`;
  return (
    <section class="panel" aria-labelledby="ping-title">
      <h2 id="ping-title">Ping URLs</h2>
      <p class="muted">Request one of these when the job has run: a GET, POST or HEAD. Append /start, /fail or /&lt;exit code&gt; for the other signals.</p>
      <div class="field">
        <span class="label" id="ping-url-label">
          By the job's token
        </span>
        <div class="copyable">
          <code id="ping-url" class="url" aria-labelledby="ping-url-label" safe>
            {url}
          </code>
          <button type="button" class="button-quiet button-small copy" data-copy="#ping-url" hidden>
            Copy
          </button>
        </div>
      </div>
      {ping.slug ? (
        <div class="field">
          <span class="label" id="slug-url-label">
            By the tenant's ping key and the job's slug
          </span>
          <div class="copyable">
            <code id="slug-url" class="url" aria-labelledby="slug-url-label" safe>
              {ping.slug.url}
            </code>
            <button type="button" class="button-quiet button-small copy" data-copy="#slug-url" hidden>
              Copy
            </button>
          </div>
        </div>
      ) : (
        <p class="muted">No slug URL: its slug reaches another job first (one in namespace default named like it).</p>
      )}
      <h3>Snippets</h3>
      <Snippet id="snippet-curl" title="curl" open text={`curl -fsS -m 10 --retry 5 -o /dev/null ${url}`} />
      <Snippet id="snippet-wget" title="wget" text={`wget -q -T 10 -t 5 -O /dev/null ${url}`} />
      <Snippet
        id="snippet-powershell"
        title="PowerShell"
        text={`Invoke-RestMethod -Uri '${url}' -TimeoutSec 10 | Out-Null\n\n# A failure, with output\nInvoke-RestMethod -Uri '${url}/fail' -Method Post -ContentType 'text/plain; charset=utf-8' \`\n  -Body ([Text.Encoding]::UTF8.GetBytes('what went wrong')) -TimeoutSec 10 | Out-Null`}
      />
      <Snippet id="snippet-python" title="Python" text={`import urllib.request\n\nurllib.request.urlopen("${url}", timeout=10)`} />
      <Snippet
        id="snippet-crontab"
        title="A crontab line"
        text={`${zoneNote}${everyNote}${times}  ${command} > ${log} 2>&1; curl -fsS -m 10 --retry 5 -o /dev/null --data-binary @${log} ${url}/$?`}
      />
      <Snippet id="snippet-exec" title="crontopus exec" text={`${everyNote}${times}  crontopus exec --ping-url ${url} -- ${command}`} />
      <Snippet
        id="snippet-runitor"
        title="runitor"
        text={`runitor -api-url ${ping.base} -uuid ${ping.token} -- ${command}${ping.slug ? `\n# or by slug:\nrunitor -api-url ${ping.base} -ping-key ${ping.slug.key} -slug ${ping.slug.slug} -- ${command}` : ""}`}
      />
    </section>
  );
}

function Uptime({ months }: { months: MonthUptime[] }) {
  return (
    <section class="panel" aria-labelledby="uptime-title">
      <h2 id="uptime-title">Uptime</h2>
      {months.length === 0 ? (
        <p class="muted">No month yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="uptime">
            <thead>
              <tr>
                <th scope="col">Month</th>
                <th scope="col">Uptime</th>
                <th scope="col">Downtime</th>
                <th scope="col">Outages</th>
              </tr>
            </thead>
            <tbody>
              {months.map((m) => (
                <tr>
                  <th scope="row" safe>
                    {m.month}
                  </th>
                  <td safe>{m.uptime === null ? "no data" : `${(Math.floor(m.uptime * 10000) / 100).toFixed(2)} %`}</td>
                  <td safe>{m.downtime_ms === 0 ? "none" : durationText(m.downtime_ms)}</td>
                  <td safe>{String(m.outages)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="muted">Down or failed counts as downtime; time paused, never heard from or changed by hand (a pause, a resume) counts for neither side.</p>
    </section>
  );
}

const RUN_WORDS: Record<string, string> = { success: "success", failed: "failed", timeout: "timed out", running: "running" };

function LogRow({ entry, job, now, hold }: { entry: LogEntry; job: Job; now: number; hold?: boolean }) {
  if (entry.kind === "flip") {
    const f = entry.flip;
    return (
      <li class="log-flip" data-live-hold={hold}>
        <span class="flip-change">
          <span class={`was was-${f.from}`} safe>
            {f.from}
          </span>
          {" → "}
          <span class={`was was-${f.to}`} safe>
            {f.to}
          </span>
        </span>
        <span class="log-reason" safe>
          {f.reason}
        </span>
        <span class="log-time">
          <When ms={f.created_at} now={now} tz={job.timezone} />
        </span>
      </li>
    );
  }
  const r = entry.run;
  const at = r.finished_at ?? r.started_at;
  return (
    <li class="log-run" data-live-hold={hold}>
      <span class={`run-word run-${r.status}`} safe>
        {RUN_WORDS[r.status] ?? r.status}
      </span>
      <span class="log-detail">
        <a href={`/runs/${r.id}`} safe>
          {`Run ${r.id}`}
        </a>
        {r.duration_ms !== null ? <span safe>{` · ${durationText(r.duration_ms)}`}</span> : null}
        {r.exit_code !== null ? <span safe>{` · exit ${r.exit_code}`}</span> : null}
        {r.source ? (
          <span class="muted" safe>
            {` · ${r.source}`}
          </span>
        ) : null}
        {r.reason && r.status !== "success" ? (
          <span class="log-reason" safe>
            {r.reason}
          </span>
        ) : null}
      </span>
      <span class="log-time">
        <When ms={at} now={now} tz={job.timezone} />
      </span>
    </li>
  );
}

/**
 * Log entries and the link to the older ones: inside the page, and alone as the answer to that
 * link. Older entries hold the log as it is (data-live-hold): new runs no longer push it about.
 */
export function LogEntries({ job, log, now, older = false }: { job: Job; log: JobLogPage; now: number; older?: boolean }) {
  const path = jobPath(job);
  return (
    <>
      {log.entries.map((e, i) => (
        <LogRow entry={e} job={job} now={now} hold={older && i === 0} />
      ))}
      {log.next_cursor ? (
        <li id="log-more" class="log-more">
          <a href={`${path}?log=${encodeURIComponent(log.next_cursor)}#log`} hx-get={`${path}/log?cursor=${encodeURIComponent(log.next_cursor)}`} hx-target="#log-more" hx-swap="outerHTML">
            Older runs
          </a>
        </li>
      ) : null}
    </>
  );
}

function Log({ job, log, now, older }: { job: Job; log: JobLogPage; now: number; older: boolean }) {
  return (
    <section class="panel" aria-labelledby="log-title" id="log">
      <h2 id="log-title">Runs and status changes</h2>
      {older ? (
        <p>
          <a href={`${jobPath(job)}#log`}>Newest first</a>
        </p>
      ) : null}
      {log.entries.length === 0 ? (
        <p class="muted">No runs yet: ping the URL above when the job runs.</p>
      ) : (
        <ol class="log">
          <LogEntries job={job} log={log} now={now} />
        </ol>
      )}
    </section>
  );
}

function LatestOutput({ latest, job, now }: { latest: NonNullable<JobHistory["latest"]>; job: Job; now: number }) {
  const { run } = latest;
  return (
    <section class="panel" aria-labelledby="output-title">
      <h2 id="output-title">Latest output</h2>
      <p class="muted">
        <a href={`/runs/${run.id}`} safe>{`Run ${run.id}`}</a>
        {", "}
        <span safe>{RUN_WORDS[run.status] ?? run.status}</span>
        {", "}
        <When ms={run.finished_at ?? run.started_at} now={now} tz={job.timezone} />
        {latest.cut ? ": its last lines" : null}
      </p>
      {latest.output ? (
        <pre class="output">
          <code safe>{latest.output}</code>
        </pre>
      ) : (
        <p class="muted">It sent no output.</p>
      )}
    </section>
  );
}

function Agents({ agents, now, job }: { agents: JobAgent[]; now: number; job: Job }) {
  if (!agents.length && job.command === null) return null;
  const selector = job.agent_selector
    ? Object.entries(job.agent_selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")
    : null;
  const none = selector ? `No agent matches its selector (${selector}) yet.` : "It has no agent selector, so no agent runs it: something else runs the command and pings.";
  return (
    <section class="panel" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      {agents.length === 0 ? (
        <p class="muted" safe>
          {none}
        </p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Agent status</th>
                <th scope="col">The job there</th>
                <th scope="col">Reported</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr>
                  <td>
                    <a href={`/agents/${a.agent.id}`} safe>
                      {a.agent.name}
                    </a>
                    <span class="muted" safe>{` ${a.agent.hostname}`}</span>
                  </td>
                  <td>
                    <span class={`agent-status agent-${a.agent.status}`}>
                      {a.agent.status}
                    </span>
                  </td>
                  <td>
                    <span class={`instance instance-${a.state}`} safe>
                      {a.assigned ? a.state : `${a.state}, being removed`}
                    </span>
                    {a.message ? (
                      <span class="log-reason" safe>
                        {a.message}
                      </span>
                    ) : null}
                  </td>
                  <td>
                    <When ms={a.updated_at} now={now} tz={job.timezone} never="not yet" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Details({ job }: { job: Job }) {
  const labels = Object.entries(job.labels);
  return (
    <section class="panel" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <dl class="facts">
        <div>
          <dt>Command</dt>
          <dd>{job.command === null ? <span class="muted">none: pinged by whatever runs it</span> : <code safe>{[job.command, ...job.args].join(" ")}</code>}</dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>{labels.length ? labels.map(([k, v]) => <LabelChip label={`${k}=${v}`} href={`/jobs?label=${encodeURIComponent(`${k}=${v}`)}`} />) : <span class="muted">none</span>}</dd>
        </div>
        {job.agent_selector ? (
          <div>
            <dt>Agents</dt>
            <dd safe>
              {Object.entries(job.agent_selector)
                .map(([k, v]) => `${k}=${v}`)
                .join(", ")}
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Created</dt>
          <dd safe>{`${wallText(job.created_at, job.timezone)} ${job.timezone}`}</dd>
        </div>
      </dl>
    </section>
  );
}

/** The charts of the recent runs: they follow the job's runs. */
export function JobRecent({ job, runs }: { job: Job; runs: Run[] }) {
  return (
    <section id="job-recent" class="panel charts" aria-labelledby="recent-title" {...live(`${jobPath(job)}/recent`, `run:${job.id}`, { poll: "10s" })}>
      <h2 id="recent-title">Recent runs</h2>
      {runs.length ? (
        <>
          <h3>Outcome of the last 50</h3>
          <StatusStrip runs={runs} tz={job.timezone} />
          <h3>Duration of the last 100</h3>
          <DurationChart runs={runs} tz={job.timezone} />
          <RunLegend />
        </>
      ) : (
        <p class="muted">No runs yet.</p>
      )}
    </section>
  );
}

/**
 * The run log and the latest output: they follow the job's runs and its status changes (a late or
 * down written between runs), from the newest entries only (a page of older ones is not live).
 */
export function JobHistoryPart({ job, history, now, older = false }: { job: Job; history: JobHistory; now: number; older?: boolean }) {
  return (
    <div id="job-history" {...(older ? {} : live(`${jobPath(job)}/history`, `job:${job.id} run:${job.id}`, { poll: "10s" }))}>
      <Log job={job} log={history.log} now={now} older={older} />
      {history.latest ? <LatestOutput latest={history.latest} job={job} now={now} /> : null}
    </div>
  );
}

export function JobPage({ shell, view, older = false }: { shell: Shell; view: JobView; older?: boolean }) {
  const { job } = view;
  const title = `${job.namespace}/${job.name}`;
  return (
    <Layout shell={shell} title={title}>
      <nav class="breadcrumb" aria-label="Breadcrumb">
        {"Namespace "}
        <a href={`/jobs?namespace=${encodeURIComponent(job.namespace)}`} safe>
          {job.namespace}
        </a>
      </nav>
      <div class="page-head">
        <h1 safe>{title}</h1>
        {view.canWrite ? <Actions job={job} csrf={shell.csrf} editable={!view.git || view.git.writeBack} /> : null}
      </div>
      {view.git ? <Source job={job} git={view.git} /> : null}
      <JobLive job={job} now={view.now} />
      <div class="job-grid">
        <JobRecent job={job} runs={view.runs} />
        <Schedule view={view} />
      </div>
      <JobHistoryPart job={job} history={view} now={view.now} older={older} />
      <div class="job-grid">
        <Ping view={view} />
        <div>
          <Uptime months={view.uptime} />
          <Agents agents={view.agents} now={view.now} job={job} />
          <Details job={job} />
        </div>
      </div>
    </Layout>
  );
}

/** Deleting a job asks first. */
export function DeleteJobPage({ shell, job }: { shell: Shell; job: Job }) {
  const title = `${job.namespace}/${job.name}`;
  return (
    <Layout shell={shell} title={`Delete ${title}`}>
      <div class="page-head">
        <h1 safe>{`Delete ${title}?`}</h1>
      </div>
      <div class="panel narrow">
        <p>
          Its run history goes with it and its ping URL stops answering. Agents remove it from their hosts. This cannot be undone.
        </p>
        <form method="post" action={`${jobPath(job)}/delete`} class="actions">
          <CsrfField token={shell.csrf} />
          <button type="submit" class="button-danger">
            Delete the job
          </button>
          <a class="button button-quiet" href={jobPath(job)}>
            Cancel
          </a>
        </form>
      </div>
    </Layout>
  );
}
