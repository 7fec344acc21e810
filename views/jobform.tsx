// Creating and editing a job: a form whose errors, from the services, sit next to their fields, with
// the schedule in words and its next runs as you type (htmx asks /jobs/preview); and a YAML tab that
// edits the same job as a crontopus/v1 manifest through the same parser.
import type { Job } from "../src/jobs/jobs";
import { Layout } from "./layout";
import { CsrfField, Field, FormAlert, Submit, TextArea, type FieldErrors } from "./components/form";
import { offsetText, wallDay } from "./components/time";
import type { Shell } from "./shell";

/** The form's fields as typed (text), kept when the form comes back with errors. */
export interface JobFormValues {
  namespace: string;
  name: string;
  schedule: string;
  timezone: string;
  grace: string;
  timeout: string;
  command: string;
  /** key=value, one a line. */
  labels: string;
  alert_after: string;
}

export type SchedulePreviewValue =
  | { kind: "empty" }
  | { kind: "ok"; description: string; next: number[]; timezone: string }
  | { kind: "error"; message: string };

export interface JobForm {
  /** The job edited; null on /jobs/new. */
  job: Job | null;
  tab: "form" | "yaml";
  values: JobFormValues;
  yaml: string;
  errors: FieldErrors;
  alert?: string;
  preview: SchedulePreviewValue;
  namespaces: string[];
  timezones: string[];
}

/** The schedule in words and its next runs, or what is wrong with it: in the form, and alone as /jobs/preview's answer. */
export function SchedulePreview({ preview }: { preview: SchedulePreviewValue }) {
  return (
    <div id="schedule-preview" class="schedule-preview" aria-live="polite">
      {preview.kind === "empty" ? <p class="muted">Type a schedule to see when it runs.</p> : null}
      {preview.kind === "error" ? (
        <p class="preview-error" safe>
          {preview.message}
        </p>
      ) : null}
      {preview.kind === "ok" ? (
        <>
          <p class="preview-description" safe>
            {preview.description}
          </p>
          <ol class="next-runs">
            {preview.next.map((ms) => (
              <li>
                <time datetime={new Date(ms).toISOString()} safe>
                  {`${wallDay(ms, preview.timezone)} (${preview.timezone}, ${offsetText(ms, preview.timezone)})`}
                </time>
              </li>
            ))}
          </ol>
        </>
      ) : null}
    </div>
  );
}

/** htmx: ask for the preview as the schedule or the zone changes. */
const PREVIEW = {
  "hx-get": "/jobs/preview",
  "hx-trigger": "input changed delay:300ms",
  "hx-target": "#schedule-preview",
  "hx-swap": "outerHTML",
  "hx-include": "#schedule, #timezone",
};

function FormTab({ form, action, csrf }: { form: JobForm; action: string; csrf: string }) {
  const v = form.values;
  const e = form.errors;
  const creating = form.job === null;
  return (
    <form method="post" action={action} novalidate class="job-form">
      <CsrfField token={csrf} />
      <input type="hidden" name="tab" value="form" />
      {creating ? (
        <div class="field-row">
          <Field name="namespace" label="Namespace" value={v.namespace} error={e.namespace} hint="Created if it does not exist. Default: default." attrs={{ list: "namespaces", autocapitalize: "none" }} />
          <Field name="name" label="Name" value={v.name} error={e.name} required hint="Lower-case letters, digits and '-', e.g. db-backup." attrs={{ autocapitalize: "none", spellcheck: "false" }} autofocus />
        </div>
      ) : null}
      <datalist id="namespaces">
        {form.namespaces.map((ns) => (
          <option value={ns} />
        ))}
      </datalist>
      <div class="field-row">
        <Field name="schedule" label="Schedule" value={v.schedule} error={e.schedule} required hint="Cron (0 2 * * *), a macro (@daily) or @every 10m." attrs={{ ...PREVIEW, autocapitalize: "none", spellcheck: "false" }} />
        <Field name="timezone" label="Time zone" value={v.timezone} error={e.timezone} hint="An IANA name, e.g. Europe/Berlin. Default: UTC." attrs={{ ...PREVIEW, list: "timezones", autocapitalize: "none" }} />
      </div>
      <datalist id="timezones">
        {form.timezones.map((tz) => (
          <option value={tz} />
        ))}
      </datalist>
      <SchedulePreview preview={form.preview} />
      <div class="field-row">
        <Field name="grace" label="Grace" value={v.grace} error={e.grace} hint="How late a run may be before the job is down, e.g. 5m (the default)." />
        <Field name="timeout" label="Timeout" value={v.timeout} error={e.timeout} hint="A started run longer than this has failed, e.g. 2h. Empty: none." />
        <Field name="alert_after" label="Alert after" type="number" value={v.alert_after} error={e.alert_after} hint="Failures in a row before an alert. Default: 1." attrs={{ min: "1", max: "1000" }} />
      </div>
      <Field name="command" label="Command" value={v.command} error={e.command} hint="For a host's agent to run. Empty: the job only receives pings." attrs={{ spellcheck: "false", autocapitalize: "none" }} />
      <TextArea name="labels" label="Labels" value={v.labels} error={e.labels} rows={3} mono hint="key=value, one a line, e.g. env=prod." />
      {!creating ? <p class="muted">Fields not on this form (env, args, annotations, channels, agent selector) stay as they are; the YAML tab shows them all.</p> : null}
      <Submit>{creating ? "Create job" : "Save"}</Submit>
    </form>
  );
}

function YamlTab({ form, action, csrf }: { form: JobForm; action: string; csrf: string }) {
  return (
    <form method="post" action={action} novalidate class="job-form">
      <CsrfField token={csrf} />
      <input type="hidden" name="tab" value="yaml" />
      <TextArea
        name="yaml"
        label="Manifest (crontopus/v1)"
        value={form.yaml}
        error={form.errors.yaml}
        rows={22}
        mono
        hint={form.job ? "The whole job: what is left out goes back to its default. The name and namespace cannot change here." : "The same manifest crontopus jobs apply -f takes."}
      />
      <Submit>{form.job ? "Save" : "Create job"}</Submit>
    </form>
  );
}

export function JobFormPage({ shell, form }: { shell: Shell; form: JobForm }) {
  const job = form.job;
  const base = job ? `/jobs/${job.namespace}/${job.name}/edit` : "/jobs/new";
  const title = job ? `Edit ${job.namespace}/${job.name}` : "New job";
  return (
    <Layout shell={shell} title={title}>
      {job ? (
        <nav class="breadcrumb" aria-label="Breadcrumb">
          {"Back to "}
          <a href={`/jobs/${job.namespace}/${job.name}`} safe>{`${job.namespace}/${job.name}`}</a>
        </nav>
      ) : null}
      <div class="page-head">
        <h1 safe>{title}</h1>
      </div>
      <nav class="tabs" aria-label="Edit as">
        <a href={base} aria-current={form.tab === "form" ? "page" : undefined}>
          Form
        </a>
        <a href={`${base}?tab=yaml`} aria-current={form.tab === "yaml" ? "page" : undefined}>
          YAML
        </a>
      </nav>
      <div class="panel">
        <FormAlert text={form.alert} />
        {form.tab === "form" ? <FormTab form={form} action={base} csrf={shell.csrf} /> : <YamlTab form={form} action={base} csrf={shell.csrf} />}
      </div>
    </Layout>
  );
}
