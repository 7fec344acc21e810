// The dashboard: the tenant's jobs counted by status, each count a link to the jobs in it.
import { JOB_STATUSES, type JobStatus } from "../src/jobs/types";
import { Layout } from "./layout";
import { StatusBadge } from "./components/status";
import type { Shell } from "./shell";

export function DashboardPage({ shell, counts }: { shell: Shell; counts: Record<JobStatus, number> }) {
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  return (
    <Layout shell={shell} title="Dashboard">
      <div class="page-head">
        <h1>Dashboard</h1>
        <span class="muted" safe>
          {`${total} ${total === 1 ? "job" : "jobs"} in ${shell.tenant?.name ?? ""}`}
        </span>
      </div>
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
      ) : null}
    </Layout>
  );
}
