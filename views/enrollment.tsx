// The tenant's enrollment tokens, /settings/enrollment: the tokens hosts enroll with (each with
// its state, its uses and Revoke), and the form that makes one (the token shown on the answer, once).
// The agents pages' "Add an agent" makes them too; this is where they are all kept track of.
import type { EnrollmentToken } from "../src/agents/model";
import { enrollmentTokenSpent } from "../src/agents/model";
import { CsrfField, Field, FieldError, FormAlert, Submit, type FieldErrors } from "./components/form";
import { CopyValue } from "./components/copy";
import { RevokeForm, SecretTimes } from "./components/secretitem";
import { SettingsFrame } from "./settings";
import type { Shell } from "./shell";

export interface EnrollmentFormValues {
  name: string;
  /** key=value, one a line. */
  labels: string;
  max_uses: string;
  expires_in_days: string;
}

export const EMPTY_ENROLLMENT_VALUES: EnrollmentFormValues = { name: "", labels: "", max_uses: "", expires_in_days: "" };

export interface EnrollmentView {
  tokens: EnrollmentToken[];
  values: EnrollmentFormValues;
  errors: FieldErrors;
  alert?: string;
  /** The token just made, with its secret: shown on this answer only. */
  created?: { token: string; enrollment_token: EnrollmentToken };
  now: number;
  baseUrl: string;
}

/** A token's state in a word: usable, used up or expired. */
export function enrollmentState(t: EnrollmentToken, now: number): "usable" | "used up" | "expired" {
  return enrollmentTokenSpent(t, now) ?? "usable";
}

function EnrollmentForm({ view, csrf }: { view: EnrollmentView; csrf: string }) {
  const v = view.values;
  const e = view.errors;
  return (
    <form method="post" action="/settings/enrollment" novalidate class="enrollment-form">
      <CsrfField token={csrf} />
      <FormAlert text={view.alert} />
      <Field name="name" label="Name" value={v.name} error={e.name} required hint="What it is for, e.g. web servers. 1 to 100 characters." attrs={{ maxlength: "100" }} />
      <div class="field">
        <label for="labels">Labels</label>
        <textarea
          id="labels"
          name="labels"
          rows="3"
          class="mono"
          spellcheck="false"
          autocapitalize="none"
          aria-invalid={e.labels ? "true" : undefined}
          aria-describedby={`labels-hint${e.labels ? " labels-error" : ""}`}
          safe
        >
          {v.labels}
        </textarea>
        <span class="hint" id="labels-hint">
          Given to every agent enrolled with it, for jobs to select hosts by: key=value, one a line, e.g. role=web.
        </span>
        <FieldError id="labels" error={e.labels} />
      </div>
      <div class="field-row">
        <Field
          name="max_uses"
          label="Enrollments it allows"
          type="number"
          value={v.max_uses}
          error={e.max_uses}
          hint="Empty: any number."
          attrs={{ min: "1", inputmode: "numeric" }}
        />
        <Field
          name="expires_in_days"
          label="Expires after (days)"
          type="number"
          value={v.expires_in_days}
          error={e.expires_in_days}
          hint="1 to 3650. Empty: it never expires."
          attrs={{ min: "1", max: "3650", inputmode: "numeric" }}
        />
      </div>
      <Submit>Create enrollment token</Submit>
    </form>
  );
}

function Created({ created, baseUrl }: { created: NonNullable<EnrollmentView["created"]>; baseUrl: string }) {
  return (
    <section class="panel created" aria-labelledby="created-title">
      <h2 id="created-title" safe>{`Enrollment token ${created.enrollment_token.name} created`}</h2>
      <p class="flash flash-info">Copy it now: it is shown this once. The server keeps only a hash of it.</p>
      <CopyValue id="new-token" label="The enrollment token" value={created.token} />
      <CopyValue id="enroll-command" label="On a host with crontopus installed" value={`crontopus agent enroll --server ${baseUrl} --token ${created.token}`} />
      <p class="muted">
        Or install the agent and enroll in one go: <a href="/agents">Agents</a> shows the install commands.
      </p>
    </section>
  );
}

function EnrollmentItem({ token, now, csrf }: { token: EnrollmentToken; now: number; csrf: string }) {
  const state = enrollmentState(token, now);
  const labels = Object.entries(token.labels);
  return (
    <li class="item">
      <div class="item-head">
        <strong class="item-name" safe>
          {token.name}
        </strong>
        <code class="muted" safe>{`${token.prefix}…`}</code>
        <span class={`state ${state === "usable" ? "state-usable" : "state-spent"}`} data-enrollment-state={state}>
          {state}
        </span>
      </div>
      <dl class="item-facts">
        <div>
          <dt>Enrollments</dt>
          <dd safe>{token.max_uses === null ? `${token.uses} (no limit)` : `${token.uses} of ${token.max_uses}`}</dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>{labels.length ? <span safe>{labels.map(([k, v]) => `${k}=${v}`).join(", ")}</span> : <span class="muted">none</span>}</dd>
        </div>
        <SecretTimes item={token} now={now} />
      </dl>
      <RevokeForm action={`/settings/enrollment/${encodeURIComponent(token.id)}/revoke`} csrf={csrf} name={token.name} question={`Revoke the enrollment token ${token.name}? No host can enroll with it any more; agents enrolled with it keep working.`} />
    </li>
  );
}

export function EnrollmentPage({ shell, view }: { shell: Shell; view: EnrollmentView }) {
  return (
    <SettingsFrame shell={shell} title="Enrollment tokens" current="/settings/enrollment">
      {view.created ? <Created created={view.created} baseUrl={view.baseUrl} /> : null}
      <section class="panel" aria-labelledby="new-enrollment-title">
        <h2 id="new-enrollment-title">New enrollment token</h2>
        <p class="muted">A host enrolls with one once and gets its own agent token. Revoking an enrollment token stops new enrollments only.</p>
        <EnrollmentForm view={view} csrf={shell.csrf} />
      </section>
      <section aria-labelledby="enrollment-title">
        <h2 id="enrollment-title">Tokens</h2>
        {view.tokens.length === 0 ? (
          <div class="panel empty">
            <p>No enrollment tokens. A revoked token is deleted, so it is not listed.</p>
          </div>
        ) : (
          <ul class="item-list" aria-labelledby="enrollment-title">
            {view.tokens.map((t) => (
              <EnrollmentItem token={t} now={view.now} csrf={shell.csrf} />
            ))}
          </ul>
        )}
      </section>
    </SettingsFrame>
  );
}

/** What a member without the admin scope sees instead: who manages these. */
export function EnrollmentNotAllowedPage({ shell }: { shell: Shell }) {
  return (
    <SettingsFrame shell={shell} title="Enrollment tokens" current="/settings/enrollment">
      <div class="panel">
        <p>Only the tenant's owners and admins see and manage enrollment tokens.</p>
      </div>
    </SettingsFrame>
  );
}
