// The pages of the navigation that are not built yet: each says so and where the same is at hand
// today, so that links (the navigation, alerts' job links) land on a page of the console.
import { Layout } from "./layout";
import { StatusBadge } from "./components/status";
import type { Shell } from "./shell";
import type { Job } from "../src/jobs/types";

export function PendingPage({ shell, title, instead }: { shell: Shell; title: string; instead: string }) {
  return (
    <Layout shell={shell} title={title}>
      <div class="page-head">
        <h1 safe>{title}</h1>
      </div>
      <div class="panel">
        <p>This page of the console is not built yet.</p>
        <p class="muted" safe>
          {instead}
        </p>
      </div>
    </Layout>
  );
}

/** An alert's link, /jobs/<namespace>/<name>: the job's status, until the job page exists. */
export function PendingJobPage({ shell, job }: { shell: Shell; job: Job }) {
  const title = `${job.namespace}/${job.name}`;
  return (
    <Layout shell={shell} title={title}>
      <div class="page-head">
        <h1 safe>{title}</h1>
        <StatusBadge status={job.status} />
      </div>
      <div class="panel">
        <p>The full job page (runs, schedule, ping URLs) is not built yet.</p>
        <p class="muted" safe>
          {`Until then: crontopus jobs get ${title}, or GET /api/v1/jobs/${title}.`}
        </p>
      </div>
    </Layout>
  );
}
