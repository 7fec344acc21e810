// The agents list, /agents: every agent of the tenant with its status, platform, version, last
// heartbeat, the jobs it was given and how they stand, and its labels; a status filter kept in the
// URL. "Add an agent" (/agents/new) makes an enrollment token and shows, once, the one-line install
// commands for it. The table sits in #agents-table, so that live updates can replace it later.
import type { AgentStatus as Status, AgentSummary, EnrollmentToken, InstanceCounts } from "../src/agents/model";
import { Layout } from "./layout";
import { CsrfField, Field, FormAlert, Submit, TextArea, type FieldErrors } from "./components/form";
import { AgentStatus } from "./components/agentstatus";
import { Time, When } from "./components/time";
import { LabelChip } from "./jobs";
import type { Shell } from "./shell";

export interface AgentsList {
  /** The status filter ("" for all). */
  status: "" | Status;
  /** Where the page starts: after the agent of this name ("" for the first page). */
  after: string;
  agents: AgentSummary[];
  /** The next page's `after`; null on the last page. */
  next: string | null;
  /** The viewer may add agents (make enrollment tokens: owners and admins). */
  canAdd: boolean;
  now: number;
}

export const agentHref = (a: { id: string }) => `/agents/${encodeURIComponent(a.id)}`;

const FILTERS: { status: "" | Status; label: string }[] = [
  { status: "", label: "All" },
  { status: "online", label: "Online" },
  { status: "offline", label: "Offline" },
];

/** The list's URL for a status and a page. */
export function agentsHref(status: "" | Status, after = ""): string {
  const p = new URLSearchParams();
  if (status) p.set("status", status);
  if (after) p.set("after", after);
  const q = p.toString();
  return q ? `/agents?${q}` : "/agents";
}

function StatusFilter({ current }: { current: "" | Status }) {
  return (
    <nav class="subnav" aria-label="Agents by status">
      <ul>
        {FILTERS.map((f) => (
          <li>
            <a href={agentsHref(f.status)} aria-current={f.status === current ? "page" : undefined} safe>
              {f.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** "2 applied · 1 pending": the instances in order, those with none left out (drifted and error are the Drift column's). */
export function instancesText(c: InstanceCounts): string {
  const parts = (["applied", "pending"] as const).filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`);
  return parts.join(" · ");
}

function Jobs({ counts }: { counts: InstanceCounts }) {
  const text = instancesText(counts);
  return (
    <>
      <span class="count" safe>
        {String(counts.assigned)}
      </span>
      {text ? (
        <span class="muted instances" safe>
          {text}
        </span>
      ) : null}
    </>
  );
}

/** Jobs whose entries were found changed by hand (restored) or could not be written: the ones to look at. */
function Drift({ counts }: { counts: InstanceCounts }) {
  if (!counts.drifted && !counts.error) return <span class="muted">none</span>;
  return (
    <span class="drift">
      {counts.drifted ? (
        <span class="status instance-state" data-instance-state="drifted" safe>
          {`${counts.drifted} drifted`}
        </span>
      ) : null}
      {counts.error ? (
        <span class="status instance-state" data-instance-state="error" safe>
          {`${counts.error} ${counts.error === 1 ? "error" : "errors"}`}
        </span>
      ) : null}
    </span>
  );
}

function Row({ summary, now }: { summary: AgentSummary; now: number }) {
  const a = summary.agent;
  const labels = Object.entries(a.labels);
  return (
    <tr>
      <td class="agent-name card-head">
        <a href={agentHref(a)} safe>
          {a.name}
        </a>
        <span class="muted" safe>
          {a.hostname}
        </span>
      </td>
      <td data-label="Status">
        <AgentStatus status={a.status} />
        <span class="muted since-line">
          {"since "}
          <When ms={a.status_since} now={now} tz="UTC" />
        </span>
      </td>
      <td data-label="Platform">
        <span safe>{`${a.platform}/${a.arch}`}</span>
        {a.os_version ? (
          <span class="muted" safe>
            {a.os_version}
          </span>
        ) : null}
      </td>
      <td data-label="Version" safe>
        {a.version ?? "—"}
      </td>
      <td data-label="Last heartbeat">
        <When ms={a.last_seen_at} now={now} tz="UTC" />
      </td>
      <td class="agent-jobs" data-label="Jobs">
        <Jobs counts={summary.jobs} />
      </td>
      <td data-label="Drift">
        <Drift counts={summary.jobs} />
      </td>
      <td class="agent-labels card-wide" data-label="Labels">
        {labels.length ? (
          <span class="row-chips">
            {labels.map(([k, v]) => (
              <LabelChip label={`${k}=${v}`} />
            ))}
          </span>
        ) : (
          <span class="muted">none</span>
        )}
      </td>
    </tr>
  );
}

function Empty({ list }: { list: AgentsList }) {
  if (list.after) {
    return (
      <div class="panel empty">
        <p>
          No more agents. <a href={agentsHref(list.status)}>First page</a>
        </p>
      </div>
    );
  }
  if (list.status) {
    return (
      <div class="panel empty">
        <p>
          <span safe>{`No agent is ${list.status}.`}</span> <a href="/agents">Show all agents</a>
        </p>
      </div>
    );
  }
  return (
    <div class="panel empty">
      <p>No agents yet.</p>
      {list.canAdd ? (
        <p>
          <a class="button" href="/agents/new">
            Add an agent
          </a>
        </p>
      ) : (
        <p>An owner or admin of this tenant can add one: it takes one command on the host.</p>
      )}
      <p>An agent installs the jobs aimed at its host in its crontab (or Task Scheduler), keeps them as written and reports what it finds.</p>
    </div>
  );
}

export function AgentsPage({ shell, list }: { shell: Shell; list: AgentsList }) {
  return (
    <Layout shell={shell} title="Agents">
      <div class="page-head">
        <h1>Agents</h1>
        {list.canAdd ? (
          <a class="button" href="/agents/new">
            Add an agent
          </a>
        ) : null}
      </div>
      <StatusFilter current={list.status} />
      <div id="agents-table">
        {list.agents.length === 0 ? (
          <Empty list={list} />
        ) : (
          <div class="table-wrap">
            <table class="jobs agents cards">
              <caption class="visually-hidden">{list.status ? `Agents ${list.status}` : "Agents"}</caption>
              <thead>
                <tr>
                  <th scope="col">Agent</th>
                  <th scope="col">Status</th>
                  <th scope="col">Platform</th>
                  <th scope="col">Version</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Jobs</th>
                  <th scope="col">Drift</th>
                  <th scope="col">Labels</th>
                </tr>
              </thead>
              <tbody>
                {list.agents.map((summary) => (
                  <Row summary={summary} now={list.now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {list.after || list.next ? (
          <nav class="pager" aria-label="Pages">
            {list.after ? <a href={agentsHref(list.status)}>First page</a> : null}
            {list.next ? (
              <a href={agentsHref(list.status, list.next)} rel="next">
                Next page
              </a>
            ) : null}
          </nav>
        ) : null}
      </div>
    </Layout>
  );
}

/** The add-agent form's fields as typed, kept when it comes back with errors. */
export interface AddAgentValues {
  name: string;
  /** key=value, one a line. */
  labels: string;
  max_uses: string;
  expires_in_days: string;
}

export function AddAgentPage({ shell, values, errors, alert }: { shell: Shell; values: AddAgentValues; errors: FieldErrors; alert?: string }) {
  return (
    <Layout shell={shell} title="Add an agent">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        <a href="/agents">All agents</a>
      </nav>
      <div class="page-head">
        <h1>Add an agent</h1>
      </div>
      <div class="panel narrow">
        <p>
          This makes an enrollment token and gives you the command to run on the host: it downloads the agent from this server, enrolls it with the token and starts
          it as a service.
        </p>
        <FormAlert text={alert} />
        <form method="post" action="/agents/new" novalidate>
          <CsrfField token={shell.csrf} />
          <Field name="name" label="What it is for" value={values.name} error={errors.name} required autofocus hint="The token's name, e.g. web servers." />
          <TextArea name="labels" label="Labels" value={values.labels} error={errors.labels} rows={3} mono hint="key=value, one a line: every agent enrolled with this token gets them (jobs select agents by label)." />
          <div class="field-row">
            <Field name="max_uses" label="Hosts it may enroll" type="number" value={values.max_uses} error={errors.max_uses} hint="Empty: any number." attrs={{ min: "1" }} />
            <Field name="expires_in_days" label="Expires after (days)" type="number" value={values.expires_in_days} error={errors.expires_in_days} hint="1 to 3650. Empty: never." attrs={{ min: "1", max: "3650" }} />
          </div>
          <Submit>Create the install command</Submit>
        </form>
      </div>
    </Layout>
  );
}

/** A command to copy: its block and its copy button (shown by the script). */
function Command({ id, title, text, hint }: { id: string; title: string; text: string; hint: string }) {
  return (
    <section class="install-command" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} safe>
        {title}
      </h2>
      <div class="copyable">
        <pre id={id}>
          <code safe>{text}</code>
        </pre>
        <button type="button" class="button-quiet button-small copy" data-copy={`#${id}`} hidden aria-describedby={`${id}-title`}>
          Copy
        </button>
      </div>
      <p class="muted" safe>
        {hint}
      </p>
    </section>
  );
}

/** The answer to "Add an agent": the install commands with the token, shown this once. */
export function AgentAddedPage({ shell, token, commands }: { shell: Shell; token: EnrollmentToken; commands: { sh: string; ps1: string } }) {
  const labels = Object.entries(token.labels);
  return (
    <Layout shell={shell} title="Install the agent">
      <nav class="breadcrumb" aria-label="Breadcrumb">
        <a href="/agents">All agents</a>
      </nav>
      <div class="page-head">
        <h1>Install the agent</h1>
      </div>
      <div class="flash flash-info" role="status">
        Copy the command now: it holds the enrollment token, which is shown only on this page, never again.
      </div>
      <div class="panel install">
        <Command
          id="install-sh"
          title="Linux and macOS"
          text={commands.sh}
          hint="Run it as root (or put sudo before sh), so that the agent can manage every user's crontab. Without root it manages only your own."
        />
        <Command id="install-ps1" title="Windows" text={commands.ps1} hint="Run it in an elevated PowerShell (Run as administrator)." />
        <p>The host appears in the list of agents as soon as it has enrolled, and gets the jobs whose agent selector matches its host name or labels.</p>
      </div>
      <section class="panel narrow" aria-labelledby="token-title">
        <h2 id="token-title">The enrollment token</h2>
        <dl class="facts">
          <div>
            <dt>Name</dt>
            <dd safe>{token.name}</dd>
          </div>
          <div>
            <dt>Starts with</dt>
            <dd>
              <code safe>{token.prefix}</code>
            </dd>
          </div>
          <div>
            <dt>Labels</dt>
            <dd>
            {labels.length ? (
              <span class="row-chips">
                {labels.map(([k, v]) => (
                  <LabelChip label={`${k}=${v}`} />
                ))}
              </span>
            ) : (
              <span class="muted">none</span>
            )}
          </dd>
          </div>
          <div>
            <dt>Hosts it may enroll</dt>
            <dd safe>{token.max_uses === null ? "any number" : String(token.max_uses)}</dd>
          </div>
          <div>
            <dt>Expires</dt>
            <dd>{token.expires_at === null ? <span>never</span> : <Time at={token.expires_at} />}</dd>
          </div>
        </dl>
        <p class="muted">
          Revoking it stops new enrollments; agents already enrolled keep working: <code>crontopus enroll-tokens revoke</code>.
        </p>
      </section>
      <p>
        <a href="/agents">Back to the agents</a>
      </p>
    </Layout>
  );
}
