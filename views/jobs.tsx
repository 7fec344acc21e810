// The jobs list, /jobs: filters kept in the URL (namespace, label, status, text), four orders,
// pages of 50, label chips in their jobs' worst status, and a form to pause, resume or delete the
// jobs ticked. Every part works as plain links and form posts; htmx swaps the results in place
// (JobsResults is both part of the page and the answer to those requests) and refreshes the
// status column.
import type { Job, JobSort, JobStatus, LabelSummary } from "../src/jobs/jobs";
import { JOB_STATUSES } from "../src/jobs/types";
import { describeSchedule, parseSchedule } from "../src/jobs/schedule";
import { Layout } from "./layout";
import { CsrfField } from "./components/form";
import { StatusBadge } from "./components/status";
import { live } from "./components/live";
import { When } from "./components/time";
import type { Flash } from "../src/console/flash";
import type { Shell } from "./shell";

/** What the list shows, as the URL says it. */
export interface JobsQuery {
  namespace: string;
  labels: string[];
  status: string;
  q: string;
  sort: JobSort;
  cursor: string;
}

/** The list's URL for `q` with some of it changed (a new filter or order starts again at the first page). */
export function jobsHref(q: JobsQuery, change: Partial<JobsQuery> = {}): string {
  const next = { ...q, cursor: "", ...change };
  const p = new URLSearchParams();
  if (next.namespace) p.set("namespace", next.namespace);
  for (const l of next.labels) p.append("label", l);
  if (next.status) p.set("status", next.status);
  if (next.q) p.set("q", next.q);
  if (next.sort !== "name") p.set("sort", next.sort);
  if (next.cursor) p.set("cursor", next.cursor);
  const s = p.toString();
  return s ? `/jobs?${s}` : "/jobs";
}

export interface JobsList {
  query: JobsQuery;
  jobs: Job[];
  nextCursor: string | null;
  labels: LabelSummary[];
  namespaces: string[];
  /** The viewer may pause, resume, delete and create. */
  canWrite: boolean;
  now: number;
  /** The outcome of a bulk action answered in place (htmx). */
  notice?: Flash;
}

const SORTS: { sort: JobSort; label: string }[] = [
  { sort: "name", label: "Name" },
  { sort: "status", label: "Status" },
  { sort: "last_run", label: "Last run" },
  { sort: "next_run", label: "Next run" },
];

/** A label chip in the worst status of its jobs (by colour and by the status word in its title). */
export function LabelChip({ label, worst, href, active }: { label: string; worst?: JobStatus; href?: string; active?: boolean }) {
  const cls = `chip${worst ? ` chip-${worst}` : ""}${active ? " chip-active" : ""}`;
  const title = worst ? `worst status of its jobs: ${worst}` : undefined;
  return href ? (
    <a class={cls} href={href} title={title} aria-current={active ? "true" : undefined} safe>
      {label}
    </a>
  ) : (
    <span class={cls} title={title} safe>
      {label}
    </span>
  );
}

function Filters({ list }: { list: JobsList }) {
  const q = list.query;
  return (
    <form
      class="filters"
      method="get"
      action="/jobs"
      role="search"
      hx-get="/jobs"
      hx-trigger="submit, change, input delay:400ms"
      hx-target="#jobs-results"
      hx-swap="outerHTML"
      hx-push-url="true"
    >
      <div class="filter">
        <label for="filter-q">Search</label>
        <input id="filter-q" name="q" type="search" value={q.q} placeholder="name, namespace or command" />
      </div>
      <div class="filter">
        <label for="filter-namespace">Namespace</label>
        <select id="filter-namespace" name="namespace">
          <option value="">All</option>
          {list.namespaces.map((ns) => (
            <option value={ns} selected={ns === q.namespace} safe>
              {ns}
            </option>
          ))}
        </select>
      </div>
      <div class="filter">
        <label for="filter-status">Status</label>
        <select id="filter-status" name="status">
          <option value="">Any</option>
          {JOB_STATUSES.map((s) => (
            <option value={s} selected={s === q.status}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="filter">
        <label for="filter-sort">Order</label>
        <select id="filter-sort" name="sort">
          {SORTS.map((s) => (
            <option value={s.sort} selected={s.sort === q.sort} safe>
              {s.label}
            </option>
          ))}
        </select>
      </div>
      {q.labels.map((l) => (
        <input type="hidden" name="label" value={l} />
      ))}
      <div class="filter filter-submit">
        <button type="submit" class="button-quiet">
          Apply
        </button>
      </div>
    </form>
  );
}

/** The label chips with their job counts; `oob` when the status poll sends them along, to be morphed in. */
export function Chips({ labels, query, oob }: { labels: LabelSummary[]; query: JobsQuery; oob?: boolean }) {
  if (!labels.length) return null;
  const q = query;
  return (
    <nav id="jobs-chips" class="chips" aria-label="Labels" hx-swap-oob={oob ? "outerMorph" : undefined}>
      <span class="chips-title">Labels</span>
      <ul>
        {labels.map((l) => {
          const sel = `${l.key}=${l.value}`;
          const active = q.labels.includes(sel);
          const next = active ? q.labels.filter((x) => x !== sel) : [...q.labels, sel];
          return (
            <li>
              <LabelChip label={`${sel} (${l.jobs})`} worst={l.worst} href={jobsHref(q, { labels: next })} active={active} />
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function scheduleText(job: Job): string {
  try {
    return describeSchedule(parseSchedule("schedule", job.schedule, job.timezone), job.timezone);
  } catch {
    return job.schedule;
  }
}

/** The status of a job in the list: an id per job, so the status poll can swap it. */
export function ListStatus({ job, oob }: { job: Pick<Job, "id" | "status">; oob?: boolean }) {
  return (
    <span id={`job-status-${job.id}`} hx-swap-oob={oob ? "true" : undefined}>
      <StatusBadge status={job.status} />
    </span>
  );
}

function Row({ job, list, worst }: { job: Job; list: JobsList; worst: Map<string, JobStatus> }) {
  const ref = `${job.namespace}/${job.name}`;
  const href = `/jobs/${job.namespace}/${job.name}`;
  const labels = Object.entries(job.labels);
  return (
    <tr>
      {list.canWrite ? (
        <td class="select">
          <input type="checkbox" name="job" value={ref} id={`select-${job.id}`} aria-label={`Select ${ref}`} />
        </td>
      ) : null}
      <td class="job-name">
        <a href={href}>
          <span class="ns" safe>{`${job.namespace}/`}</span>
          <span safe>{job.name}</span>
        </a>
        {labels.length ? (
          <span class="row-chips">
            {labels.map(([k, v]) => (
              <LabelChip label={`${k}=${v}`} worst={worst.get(`${k}=${v}`)} />
            ))}
          </span>
        ) : null}
      </td>
      <td>
        <ListStatus job={job} />
      </td>
      <td class="schedule">
        <code safe>{job.schedule}</code>
        <span class="muted" safe>
          {scheduleText(job)}
        </span>
      </td>
      <td>
        <When ms={job.last_ping_at} now={list.now} tz={job.timezone} />
      </td>
      <td>
        {job.paused ? (
          <span class="muted">paused</span>
        ) : job.expected_at !== null && job.expected_at < list.now ? (
          // The run it waited for did not come: it says so rather than showing a "next" run in the past.
          <span>
            overdue: due <When ms={job.expected_at} now={list.now} tz={job.timezone} />
          </span>
        ) : (
          <When ms={job.expected_at} now={list.now} tz={job.timezone} never="not expected" />
        )}
      </td>
    </tr>
  );
}

function SortHeader({ list, sort, label }: { list: JobsList; sort: JobSort; label: string }) {
  const current = list.query.sort === sort;
  return (
    <th scope="col" aria-sort={current ? (sort === "last_run" ? "descending" : "ascending") : undefined}>
      <a href={jobsHref(list.query, { sort })} class={current ? "sorted" : undefined} safe>
        {label}
      </a>
    </th>
  );
}

/** The chips, the table and the pager: the part of /jobs that filters, orders and bulk actions swap. */
export function JobsResults({ list, csrf }: { list: JobsList; csrf: string }) {
  const worst = new Map(list.labels.map((l) => [`${l.key}=${l.value}`, l.worst]));
  const q = list.query;
  const filtered = !!(q.namespace || q.labels.length || q.status || q.q);
  const ids = list.jobs.map((j) => `id=${encodeURIComponent(j.id)}`).join("&");
  return (
    <div id="jobs-results">
      {list.notice ? (
        <div class={`flash flash-${list.notice.kind}`} role="status" safe>
          {list.notice.text}
        </div>
      ) : null}
      <Chips labels={list.labels} query={list.query} />
      {list.jobs.length === 0 ? (
        <div class="panel empty">
          {filtered ? (
            <p>
              No job matches these filters. <a href="/jobs">Show all jobs</a>
            </p>
          ) : (
            <p>
              No jobs yet. {list.canWrite ? <a href="/jobs/new">Create one</a> : null}
              {list.canWrite ? ", or apply" : "Apply"} a manifest with <code>crontopus jobs apply -f job.yaml</code>.
            </p>
          )}
        </div>
      ) : (
        <form method="post" action="/jobs/bulk" class="bulk">
          <CsrfField token={csrf} />
          <input type="hidden" name="back" value={jobsHref(q, { cursor: q.cursor })} />
          {list.canWrite ? (
            <div class="bulk-actions" role="group" aria-label="With the jobs ticked">
              <span class="muted">With the jobs ticked:</span>
              <button type="submit" name="action" value="pause" class="button-quiet button-small" hx-post="/jobs/bulk" hx-target="#jobs-results" hx-swap="outerHTML">
                Pause
              </button>
              <button type="submit" name="action" value="resume" class="button-quiet button-small" hx-post="/jobs/bulk" hx-target="#jobs-results" hx-swap="outerHTML">
                Resume
              </button>
              <button type="submit" name="action" value="delete" class="button-quiet button-small button-danger-quiet">
                Delete…
              </button>
            </div>
          ) : null}
          <div class="table-wrap">
            <table class="jobs">
              <caption class="visually-hidden">Jobs</caption>
              <thead>
                <tr>
                  {list.canWrite ? (
                    <th scope="col" class="select">
                      <input type="checkbox" id="select-all" aria-label="Select all jobs on this page" hidden />
                    </th>
                  ) : null}
                  <SortHeader list={list} sort="name" label="Job" />
                  <SortHeader list={list} sort="status" label="Status" />
                  <th scope="col">Schedule</th>
                  <SortHeader list={list} sort="last_run" label="Last run" />
                  <SortHeader list={list} sort="next_run" label="Next run" />
                </tr>
              </thead>
              <tbody>
                {list.jobs.map((job) => (
                  <Row job={job} list={list} worst={worst} />
                ))}
              </tbody>
            </table>
          </div>
        </form>
      )}
      <nav class="pager" aria-label="Pages">
        {q.cursor ? <a href={jobsHref(q)}>First page</a> : null}
        {list.nextCursor ? (
          <a href={jobsHref(q, { cursor: list.nextCursor })} rel="next">
            Next page
          </a>
        ) : null}
      </nav>
      {/*
        The status column and the chips kept current (public/live.ts): on a change of any of the
        tenant's jobs (at most once a second) or every 5 s without a stream, the statuses of these
        jobs, swapped by id, and the chips for the list's filters.
      */}
      {list.jobs.length ? (
<div class="poll" {...live(`/jobs/statuses?${ids}&chips=1${listParams(q)}`, "job", { swap: "none", gap: "1s", poll: "5s" })}></div>
      ) : null}
    </div>
  );
}

export function JobsPage({ shell, list }: { shell: Shell; list: JobsList }) {
  return (
    <Layout shell={shell} title="Jobs">
      <div class="page-head">
        <h1>Jobs</h1>
        {list.canWrite ? (
          <a class="button" href="/jobs/new">
            New job
          </a>
        ) : null}
      </div>
      <Filters list={list} />
      <JobsResults list={list} csrf={shell.csrf} />
    </Layout>
  );
}

/** The list's filters and order as more query parameters ("&namespace=…"), or "". */
function listParams(q: JobsQuery): string {
  const search = jobsHref(q).split("?")[1];
  return search ? `&${search}` : "";
}

/** The answer to the status poll: each job's status, to be swapped in by its id; the chips too, when asked. */
export function JobStatuses({ jobs, chips }: { jobs: Pick<Job, "id" | "status">[]; chips?: { labels: LabelSummary[]; query: JobsQuery } }) {
  return (
    <>
      {jobs.map((job) => (
        <ListStatus job={job} oob />
      ))}
      {chips ? <Chips labels={chips.labels} query={chips.query} oob /> : null}
    </>
  );
}

/** Deleting jobs asks first: the jobs ticked, and a button that deletes them. */
export function BulkDeletePage({ shell, refs, back }: { shell: Shell; refs: string[]; back: string }) {
  return (
    <Layout shell={shell} title="Delete jobs">
      <div class="page-head">
        <h1 safe>{`Delete ${refs.length} ${refs.length === 1 ? "job" : "jobs"}?`}</h1>
      </div>
      <div class="panel narrow">
        <p>Their run history goes with them. Agents remove them from their hosts. This cannot be undone.</p>
        <ul class="plain-list">
          {refs.map((r) => (
            <li>
              <code safe>{r}</code>
            </li>
          ))}
        </ul>
        <form method="post" action="/jobs/bulk" class="actions">
          <CsrfField token={shell.csrf} />
          <input type="hidden" name="action" value="delete" />
          <input type="hidden" name="confirmed" value="yes" />
          <input type="hidden" name="back" value={back} />
          {refs.map((r) => (
            <input type="hidden" name="job" value={r} />
          ))}
          <button type="submit" class="button-danger">
            Delete
          </button>
          <a class="button button-quiet" href={back}>
            Cancel
          </a>
        </form>
      </div>
    </Layout>
  );
}
