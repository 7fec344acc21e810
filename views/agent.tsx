// An agent's page, /agents/<id>: its status and facts (in #agent-state), its labels, the job
// instances on its host with each one's state and the job's current status (in #agent-jobs), and
// the unmanaged crontab entries it found, each with a form to adopt it as a managed job. Edit
// (rename, labels, heartbeat interval) and Delete… are on pages of their own, for the roles
// the API allows them.
import type { Agent, AgentDetail, DiscoveredEntry } from "../src/agents/model";
import { Layout } from "./layout";
import { CsrfField, Field, FormAlert, Submit, TextArea, type FieldErrors } from "./components/form";
import { AgentStatus, InstanceState } from "./components/agentstatus";
import { StatusBadge } from "./components/status";
import { durationText, Since, When } from "./components/time";
import { LabelChip } from "./jobs";
import { agentHref } from "./agents";
import type { Shell } from "./shell";

/** The adopt form of one entry, as sent, with the errors the service gave. */
export interface AdoptForm {
  entryId: string;
  values: { namespace: string; name: string; timezone: string };
  errors: FieldErrors;
  alert?: string;
}

export interface AgentView {
  agent: AgentDetail;
  now: number;
  /** Why each entry that cannot be adopted cannot (by entry id). */
  refused: Record<string, string>;
  /** The adopt form that came back with errors. */
  adopt?: AdoptForm;
  canWrite: boolean;
  canAdmin: boolean;
  /** Show every job instance and entry (?all=1), not the first ones only. */
  all: boolean;
}

/** How many job instances and entries the page shows before "Show all": a host with thousands of crontab lines keeps a light page. */
export const SHOWN_JOBS = 100;
export const SHOWN_ENTRIES = 25;

/** Says how many are left out, with the link that shows them. */
function More({ left, agent, what }: { left: number; agent: AgentDetail; what: string }) {
  if (left <= 0) return null;
  return (
    <p class="more">
      <span safe>{`${left} more ${what} not shown. `}</span>
      <a href={`${agentHref(agent)}?all=1`}>Show all</a>
    </p>
  );
}

const jobHref = (j: { namespace: string; name: string }) => `/jobs/${encodeURIComponent(j.namespace)}/${encodeURIComponent(j.name)}`;

/** The status and what it rests on: the part live updates will refresh. */
function State({ agent, now }: { agent: AgentDetail; now: number }) {
  return (
    <section id="agent-state" class="panel" aria-label="Status">
      <div class="job-status-line">
        <AgentStatus status={agent.status} />
        <span>
          {"since "}
          <When ms={agent.status_since} now={now} tz="UTC" />
        </span>
      </div>
      <dl class="facts">
        <div>
          <dt>Last heartbeat</dt>
          <dd>
            <Since at={agent.last_seen_at} now={now} />
          </dd>
        </div>
        <div>
          <dt>Last report</dt>
          <dd>
            <Since at={agent.last_sync_at} now={now} />
          </dd>
        </div>
        <div>
          <dt>Heartbeat every</dt>
          <dd safe>{`${durationText(agent.interval_s * 1000)} (offline after three missed)`}</dd>
        </div>
      </dl>
    </section>
  );
}

function Details({ agent, now }: { agent: AgentDetail; now: number }) {
  const labels = Object.entries(agent.labels);
  return (
    <section class="panel" aria-labelledby="details-title">
      <h2 id="details-title">Host</h2>
      <dl class="facts">
        <div>
          <dt>Host name</dt>
          <dd safe>{agent.hostname}</dd>
        </div>
        <div>
          <dt>Platform</dt>
          <dd safe>{`${agent.platform}/${agent.arch}${agent.os_version ? `, ${agent.os_version}` : ""}`}</dd>
        </div>
        <div>
          <dt>Scheduler</dt>
          <dd safe>{agent.scheduler}</dd>
        </div>
        <div>
          <dt>Agent version</dt>
          <dd safe>{agent.version ?? "—"}</dd>
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
          <dt>Enrolled</dt>
          <dd>
            <Since at={agent.created_at} now={now} />
          </dd>
        </div>
        <div>
          <dt>Machine ID</dt>
          <dd>
            <code safe>{agent.machine_id}</code>
          </dd>
        </div>
        <div>
          <dt>Agent ID</dt>
          <dd>
            <code safe>{agent.id}</code>
          </dd>
        </div>
      </dl>
    </section>
  );
}

function Jobs({ agent, now, all }: { agent: AgentDetail; now: number; all: boolean }) {
  const shown = all ? agent.jobs : agent.jobs.slice(0, SHOWN_JOBS);
  return (
    <section id="agent-jobs" class="panel" aria-labelledby="agent-jobs-title">
      <h2 id="agent-jobs-title" safe>
        {`Jobs on this host (${agent.jobs.length})`}
      </h2>
      {agent.jobs.length === 0 ? (
        <p class="muted">No job goes to this agent yet. A job goes to it when its agent selector (spec.agent.selector) matches its host name, name or labels.</p>
      ) : (
        <div class="table-wrap">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Job status</th>
                <th scope="col">On this host</th>
                <th scope="col">Reported</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((j) => (
                <tr>
                  <td class="card-head">
                    <a href={jobHref(j)} safe>
                      {`${j.namespace}/${j.name}`}
                    </a>
                  </td>
                  <td data-label="Job status">
                    <StatusBadge status={j.job_status} />
                  </td>
                  <td data-label="On this host">
                    <InstanceState state={j.state} />
                    {j.message ? (
                      <span class="log-reason" safe>
                        {j.message}
                      </span>
                    ) : null}
                  </td>
                  <td data-label="Reported">
                    <When ms={j.updated_at} now={now} tz="UTC" never="not yet" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <More left={agent.jobs.length - shown.length} agent={agent} what="jobs" />
    </section>
  );
}

function AdoptFields({ agent, entry, index, form, csrf }: { agent: AgentDetail; entry: DiscoveredEntry; index: number; form?: AdoptForm; csrf: string }) {
  const id = (f: string) => `adopt-${index}-${f}`;
  const v = form?.values ?? { namespace: "", name: "", timezone: "" };
  const e = form?.errors ?? {};
  return (
    <form method="post" action={`${agentHref(agent)}/discovered/${encodeURIComponent(entry.id)}/adopt`} class="adopt" novalidate aria-label={`Adopt ${entry.line}`}>
      <CsrfField token={csrf} />
      <div class="field-row">
        <Field id={id("namespace")} name="namespace" label="Namespace" value={v.namespace} error={e.namespace} hint="Default: default." attrs={{ autocapitalize: "none" }} />
        <Field id={id("name")} name="name" label="Job name" value={v.name} error={e.name} required hint="e.g. legacy-report" attrs={{ autocapitalize: "none", spellcheck: "false" }} />
        <Field id={id("timezone")} name="timezone" label="Time zone" value={v.timezone} error={e.timezone} hint="The zone the host's cron runs in. Default: UTC." attrs={{ autocapitalize: "none" }} />
      </div>
      <Submit>Adopt</Submit>
    </form>
  );
}

function Discovered({ view, csrf }: { view: AgentView; csrf: string }) {
  const { agent } = view;
  const jobOf = new Map(agent.jobs.map((j) => [j.job_id, j]));
  // The first ones, and the one whose adopt form came back with an error wherever it is.
  const shown = agent.discovered.map((d, i) => ({ d, i })).filter(({ d, i }) => view.all || i < SHOWN_ENTRIES || d.id === view.adopt?.entryId);
  return (
    <section id="agent-discovered" class="panel" aria-labelledby="discovered-title">
      <h2 id="discovered-title" safe>
        {`Unmanaged entries (${agent.discovered.length})`}
      </h2>
      {agent.discovered.length === 0 ? (
        <p class="muted">The agent found no crontab line that Crontopus does not manage.</p>
      ) : (
        <>
          <p class="muted">
            Lines in the host's crontabs that Crontopus does not manage. Adopting one makes it a job aimed at this host; on its next pass the agent swaps the line for the
            managed entry, which reports every run.
          </p>
          <ul class="entries">
            {shown.map(({ d, i }) => {
              const adopted = d.adopted_job_id ? jobOf.get(d.adopted_job_id) : undefined;
              const refused = view.refused[d.id];
              return (
                <li class="entry">
                  <pre class="entry-line">
                    <code safe>{d.line}</code>
                  </pre>
                  <p class="muted entry-meta">
                    {d.user ? <span safe>{`user ${d.user}`}</span> : <span>the agent's own crontab</span>}
                    {" · first seen "}
                    <When ms={d.first_seen_at} now={view.now} tz="UTC" />
                    <span safe>{` · entry ${d.id}`}</span>
                  </p>
                  <FormAlert text={view.adopt?.entryId === d.id ? view.adopt.alert : undefined} />
                  {d.adopted_job_id ? (
                    <p class="entry-adopted">
                      {"Adopted as "}
                      {adopted ? (
                        <a href={jobHref(adopted)} safe>
                          {`${adopted.namespace}/${adopted.name}`}
                        </a>
                      ) : (
                        <span>a job</span>
                      )}
                      {": the agent swaps the line on its next pass."}
                    </p>
                  ) : refused ? (
                    <p class="muted" safe>
                      {`Cannot be adopted: ${refused}.`}
                    </p>
                  ) : view.canWrite ? (
                    <AdoptFields agent={agent} entry={d} index={i} form={view.adopt?.entryId === d.id ? view.adopt : undefined} csrf={csrf} />
                  ) : null}
                </li>
              );
            })}
          </ul>
          <More left={agent.discovered.length - shown.length} agent={agent} what="entries" />
        </>
      )}
    </section>
  );
}

export function AgentPage({ shell, view }: { shell: Shell; view: AgentView }) {
  const { agent } = view;
  return (
    <Layout shell={shell} title={agent.name}>
      <nav class="breadcrumb" aria-label="Breadcrumb">
        <a href="/agents">All agents</a>
      </nav>
      <div class="page-head">
        <h1 safe>{agent.name}</h1>
        {view.canWrite ? (
          <div class="actions">
            <a class="button button-quiet" href={`${agentHref(agent)}/edit`}>
              Edit
            </a>
            {view.canAdmin ? (
              <a class="button button-quiet button-danger-quiet" href={`${agentHref(agent)}/delete`}>
                Delete…
              </a>
            ) : null}
          </div>
        ) : null}
      </div>
      <State agent={agent} now={view.now} />
      <Jobs agent={agent} now={view.now} all={view.all} />
      <Discovered view={view} csrf={shell.csrf} />
      <Details agent={agent} now={view.now} />
    </Layout>
  );
}

/** The edit form's fields as typed. */
export interface AgentEditValues {
  name: string;
  labels: string;
  interval_s: string;
}

export function AgentEditPage({ shell, agent, values, errors, alert }: { shell: Shell; agent: Agent; values: AgentEditValues; errors: FieldErrors; alert?: string }) {
  const title = `Edit ${agent.name}`;
  return (
    <Layout shell={shell} title={title}>
      <nav class="breadcrumb" aria-label="Breadcrumb">
        {"Back to "}
        <a href={agentHref(agent)} safe>
          {agent.name}
        </a>
      </nav>
      <div class="page-head">
        <h1 safe>{title}</h1>
      </div>
      <div class="panel narrow">
        <FormAlert text={alert} />
        <form method="post" action={`${agentHref(agent)}/edit`} novalidate>
          <CsrfField token={shell.csrf} />
          <Field name="name" label="Name" value={values.name} error={errors.name} required hint="Unique in the tenant: letters, digits, '.', '_', '-'." attrs={{ autocapitalize: "none", spellcheck: "false" }} />
          <TextArea name="labels" label="Labels" value={values.labels} error={errors.labels} rows={4} mono hint="key=value, one a line. They replace the agent's labels as a whole; jobs select agents by them." />
          <Field name="interval_s" label="Heartbeat interval (seconds)" type="number" value={values.interval_s} error={errors.interval_s} hint="1 to 86400. The agent is offline after three missed." attrs={{ min: "1", max: "86400" }} />
          <Submit>Save</Submit>
        </form>
      </div>
    </Layout>
  );
}

/** Deleting (forgetting) an agent asks first. */
export function DeleteAgentPage({ shell, agent }: { shell: Shell; agent: Agent }) {
  return (
    <Layout shell={shell} title={`Delete ${agent.name}`}>
      <div class="page-head">
        <h1 safe>{`Delete ${agent.name}?`}</h1>
      </div>
      <div class="panel narrow">
        <p>
          Crontopus forgets the agent: its token is revoked at once and it gets no more jobs. The host keeps its entries until <code>crontopus agent uninstall</code> is run there. Enrolling the host
          again brings it back.
        </p>
        <form method="post" action={`${agentHref(agent)}/delete`} class="actions">
          <CsrfField token={shell.csrf} />
          <button type="submit" class="button-danger">
            Delete the agent
          </button>
          <a class="button button-quiet" href={agentHref(agent)}>
            Cancel
          </a>
        </form>
      </div>
    </Layout>
  );
}
