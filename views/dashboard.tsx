// The dashboard: the tenant's jobs counted by status, each count a link to the jobs in it; the
// jobs failing or down now, late and running, each with since when; the recent runs; the agents
// offline. Every job's status is a StatusBadge (data-job-status with the word as its text).
import { JOB_STATUSES, type Job, type JobStatus } from "../src/jobs/types";
import type { Run } from "../src/runs/runs";
import type { Agent } from "../src/agents/model";
import { Layout } from "./layout";
import { StatusBadge } from "./components/status";
import { AgentStatus } from "./components/agentstatus";
import { live } from "./components/live";
import { Since } from "./components/time";
import { RunsTable } from "./runs";
import { SyncStateBadge } from "./gitops";
import type { Shell } from "./shell";

export interface Dashboard {
  counts: Record<JobStatus, number>;
  /** Failed or down now, the newest change first. */
  failing: Job[];
  late: Job[];
  running: Job[];
  recent: Run[];
  offline: Agent[];
  /** The GitOps sync when it needs looking at (degraded or failing); null otherwise. */
  gitops: { state: "degraded" | "failing"; message: string | null; errors: number } | null;
}

/** A sync that failed or applied with file errors: a banner at the top, linking to the GitOps page. */
function GitopsBanner({ gitops }: { gitops: NonNullable<Dashboard["gitops"]> }) {
  const what =
    gitops.state === "failing"
      ? `The GitOps sync is failing: nothing from the repository could be applied${gitops.message ? ` (${gitops.message})` : ""}.`
      : `The GitOps sync is degraded: ${gitops.errors} ${gitops.errors === 1 ? "file has an error" : "files have errors"}, whose jobs were kept as they were.`;
  return (
    <div class="gitops-banner" data-gitops-state={gitops.state}>
      <SyncStateBadge state={gitops.state} />
      <p safe>{what}</p>
      <a href="/settings/gitops">See the sync</a>
    </div>
  );
}

const jobHref = (j: Job) => `/jobs/${encodeURIComponent(j.namespace)}/${encodeURIComponent(j.name)}`;

/** A list of jobs with their status and since when; "N more" links to the jobs list when the list is cut. */
function JobList({ id, title, jobs, statuses, counts, none, now }: { id: string; title: string; jobs: Job[]; statuses: JobStatus[]; counts: Record<JobStatus, number>; none: string; now: number }) {
  const total = statuses.reduce((n, s) => n + counts[s], 0);
  return (
    <section class="panel dash-list" aria-labelledby={id}>
      <h2 id={id} safe>
        {`${title} (${total})`}
      </h2>
      {jobs.length ? (
        <ul class="job-list">
          {jobs.map((j) => (
            <li>
              <StatusBadge status={j.status} />
              <a href={jobHref(j)} safe>
                {`${j.namespace}/${j.name}`}
              </a>
              <span class="job-since">
                since <Since at={j.status_since} now={now} />
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted" safe>
          {none}
        </p>
      )}
      {total > jobs.length ? (
        <p class="more">
          {statuses
            .filter((s) => counts[s] > 0)
            .map((s) => (
              <a href={`/jobs?status=${s}`} safe>
                {`All ${counts[s]} ${s}`}
              </a>
            ))}
        </p>
      ) : null}
    </section>
  );
}

function OfflineAgents({ agents, now }: { agents: Agent[]; now: number }) {
  const shown = agents.slice(0, 10);
  return (
    <section class="panel dash-list" aria-labelledby="agents-offline">
      <h2 id="agents-offline" safe>
        {`Agents offline (${agents.length})`}
      </h2>
      {shown.length ? (
        <ul class="job-list">
          {shown.map((a) => (
            <li>
              <AgentStatus status={a.status} />
              <a href={`/agents/${encodeURIComponent(a.id)}`} safe>
                {a.name}
              </a>
              <span class="muted" safe>
                {a.hostname}
              </span>
              <span class="job-since">
                since <Since at={a.status_since} now={now} />
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No agent is offline.</p>
      )}
      {agents.length > shown.length ? (
        <p class="more">
          <a href="/agents">All agents</a>
        </p>
      ) : null}
    </section>
  );
}

export function DashboardPage({ shell, dashboard, now }: { shell: Shell; dashboard: Dashboard; now: number }) {
  return (
    <Layout shell={shell} title="Dashboard">
      <DashboardLive dashboard={dashboard} now={now} tenant={shell.tenant?.name ?? ""} />
    </Layout>
  );
}

/**
 * Everything the dashboard shows, the page's and the live refresh's answer (public/live.ts): it
 * follows every job, run and agent of the tenant, at most once a second (every 10 s without a
 * stream), morphed in place.
 */
export function DashboardLive({ dashboard, now, tenant }: { dashboard: Dashboard; now: number; tenant: string }) {
  const { counts } = dashboard;
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  return (
    <div id="dashboard" {...live("/dashboard/live", "job run agent", { gap: "1s", poll: "10s" })}>
      <div class="page-head">
        <h1>Dashboard</h1>
        <span class="muted" safe>
          {`${total} ${total === 1 ? "job" : "jobs"} in ${tenant}`}
        </span>
      </div>
      {dashboard.gitops ? <GitopsBanner gitops={dashboard.gitops} /> : null}
      <section aria-labelledby="by-status">
        <h2 id="by-status">Jobs by status</h2>
        <ul class="tiles">
          {JOB_STATUSES.map((s) => (
            <li>
              <a class={counts[s] ? "tile" : "tile tile-zero"} href={`/jobs?status=${s}`}>
                <span class="count" safe>
                  {String(counts[s])}
                </span>
                <StatusBadge status={s} />
              </a>
            </li>
          ))}
        </ul>
      </section>
      {total === 0 ? (
        <div class="panel empty">
          <p>No jobs yet.</p>
          <p>
            Apply a manifest with <code>crontopus jobs apply -f job.yaml</code>, or create one through the <a href="/api/docs">REST API</a>.
          </p>
        </div>
      ) : (
        <>
          <JobList id="failing" title="Failing or down" jobs={dashboard.failing} statuses={["failed", "down"]} counts={counts} none="Nothing is failing or down." now={now} />
          <div class="dash-grid">
            <JobList id="late" title="Late" jobs={dashboard.late} statuses={["late"]} counts={counts} none="Nothing is late." now={now} />
            <JobList id="running" title="Running" jobs={dashboard.running} statuses={["running"]} counts={counts} none="Nothing is running." now={now} />
          </div>
        </>
      )}
      <section class="panel" aria-labelledby="recent-runs">
        <div class="section-head">
          <h2 id="recent-runs">Recent runs</h2>
          <a href="/runs">All runs</a>
        </div>
        {dashboard.recent.length ? <RunsTable runs={dashboard.recent} caption="The most recent runs, newest first" /> : <p class="muted">No runs yet.</p>}
      </section>
      <OfflineAgents agents={dashboard.offline} now={now} />
    </div>
  );
}
