// The tenant's settings, /settings: its name, how much history it keeps, whether a ping may create
// a missing job, and its two keys (ping and badge) with a way to replace each. Also the frame every
// settings page shares (the title, then the section's own navigation) and the page that asks before
// a key is replaced, saying what stops working.
import type { Children } from "@kitajs/html";
import type { TenantSettings } from "../src/tenants/tenants";
import { Layout } from "./layout";
import { CsrfField, Field, FieldError, FormAlert, Submit, type FieldErrors } from "./components/form";
import { CopyValue } from "./components/copy";
import { SettingsNav } from "./components/settingsnav";
import { Time } from "./components/time";
import type { Shell } from "./shell";

/** A settings page: its title, the settings navigation (`current` marked), then the page's own content. */
export function SettingsFrame({ shell, title, current, children }: { shell: Shell; title: string; current: string; children: Children }) {
  return (
    <Layout shell={shell} title={title}>
      <div class="page-head">
        <h1 safe>{title}</h1>
      </div>
      <SettingsNav current={current} />
      {children}
    </Layout>
  );
}

/** The form's fields as typed (text), kept when it comes back with errors. */
export interface TenantSettingsValues {
  name: string;
  retention_days: string;
  retention_runs: string;
  auto_provision: boolean;
}

export interface TenantSettingsView {
  settings: TenantSettings;
  /** The viewer may change the settings and replace the keys (the admin scope: owners and admins). */
  canAdmin: boolean;
  values: TenantSettingsValues;
  errors: FieldErrors;
  alert?: string;
  /** The server's base URL, for the example URLs. */
  baseUrl: string;
}

export type TenantKey = "ping_key" | "badge_key";

const KEYS: Record<TenantKey, { title: string; what: string }> = {
  ping_key: { title: "Ping key", what: "the slug ping URLs" },
  badge_key: { title: "Badge key", what: "the status badge URLs" },
};

export const settingsValuesOf = (s: TenantSettings): TenantSettingsValues => ({
  name: s.name,
  retention_days: String(s.retention_days),
  retention_runs: String(s.retention_runs),
  auto_provision: s.auto_provision,
});

function SettingsForm({ view, csrf }: { view: TenantSettingsView; csrf: string }) {
  const v = view.values;
  const e = view.errors;
  return (
    <form method="post" action="/settings" novalidate class="settings-form">
      <CsrfField token={csrf} />
      <FormAlert text={view.alert} />
      <Field name="name" label="Name" value={v.name} error={e.name} required hint="How the console and the alerts name this tenant." />
      <div class="field-row">
        <Field
          name="retention_days"
          label="Keep history for (days)"
          type="number"
          value={v.retention_days}
          error={e.retention_days}
          hint="Runs, status changes and sent alerts older than this are deleted: 1 to 3650."
          attrs={{ min: "1", max: "3650", inputmode: "numeric" }}
        />
        <Field
          name="retention_runs"
          label="Keep runs per job"
          type="number"
          value={v.retention_runs}
          error={e.retention_runs}
          hint="A job's runs beyond its newest this many are deleted: 10 to 100000."
          attrs={{ min: "10", max: "100000", inputmode: "numeric" }}
        />
      </div>
      <div class="field check-field">
        <input
          type="checkbox"
          id="auto_provision"
          name="auto_provision"
          value="on"
          checked={v.auto_provision}
          aria-describedby={`auto_provision-hint${e.auto_provision ? " auto_provision-error" : ""}`}
        />
        <label for="auto_provision">Create a missing job on its first ping</label>
        <span class="hint" id="auto_provision-hint">
          A ping to a slug URL with <code>?create=1</code> for a job that does not exist creates it (in namespace default, schedule @every 1d). Off: such a ping answers 404.
        </span>
        <FieldError id="auto_provision" error={e.auto_provision} />
      </div>
      <Submit>Save settings</Submit>
    </form>
  );
}

function ReadOnlySettings({ s }: { s: TenantSettings }) {
  return (
    <dl class="facts">
      <div>
        <dt>Name</dt>
        <dd safe>{s.name}</dd>
      </div>
      <div>
        <dt>Keep history for</dt>
        <dd safe>{`${s.retention_days} days`}</dd>
      </div>
      <div>
        <dt>Keep runs per job</dt>
        <dd safe>{String(s.retention_runs)}</dd>
      </div>
      <div>
        <dt>Create a missing job on its first ping</dt>
        <dd>{s.auto_provision ? "yes" : "no"}</dd>
      </div>
    </dl>
  );
}

function KeyRow({ view, which, example }: { view: TenantSettingsView; which: TenantKey; example: string }) {
  const key = view.settings[which];
  const id = which.replace("_", "-");
  return (
    <div class="key-row">
      <CopyValue id={id} label={KEYS[which].title} value={key} />
      <p class="hint muted" safe>
        {example}
      </p>
      {view.canAdmin ? (
        <a class="button button-quiet button-small" href={`/settings/rotate-key?key=${which}`} safe>
          {`Rotate the ${KEYS[which].title.toLowerCase()}…`}
        </a>
      ) : null}
    </div>
  );
}

export function TenantSettingsPage({ shell, view }: { shell: Shell; view: TenantSettingsView }) {
  const s = view.settings;
  return (
    <SettingsFrame shell={shell} title="Tenant settings" current="/settings">
      <section class="panel" aria-labelledby="tenant-title">
        <h2 id="tenant-title">Tenant</h2>
        <p class="muted">
          Slug <code safe>{s.slug}</code>, created <Time at={s.created_at} />.
        </p>
        {view.canAdmin ? <SettingsForm view={view} csrf={shell.csrf} /> : <ReadOnlySettings s={s} />}
        {view.canAdmin ? null : <p class="muted">Only the tenant's owners and admins change these.</p>}
      </section>
      <section class="panel" aria-labelledby="keys-title">
        <h2 id="keys-title">Keys</h2>
        <p class="muted">Anyone who has a key can use the URLs built on it: rotate a key that leaked. Each job's own ping URL (by its token) does not use them.</p>
        <KeyRow view={view} which="ping_key" example={`Slug ping URLs: ${view.baseUrl}/ping/${s.ping_key}/<slug>, the slug being <name> in namespace default and <namespace>-<name> elsewhere.`} />
        <KeyRow view={view} which="badge_key" example={`Badge URLs: ${view.baseUrl}/badge/${s.badge_key}/<namespace>/<name>.svg`} />
      </section>
    </SettingsFrame>
  );
}

/** Replacing a key asks first, on a page of its own, and says what stops working. */
export function RotateKeyPage({ shell, which, settings, baseUrl }: { shell: Shell; which: TenantKey; settings: TenantSettings; baseUrl: string }) {
  const title = `Rotate the ${KEYS[which].title.toLowerCase()}?`;
  return (
    <SettingsFrame shell={shell} title={title} current="/settings">
      <div class="panel narrow">
        {which === "ping_key" ? (
          <>
            <p>
              Every slug ping URL of this tenant stops working at once: <code safe>{`${baseUrl}/ping/${settings.ping_key}/…`}</code> answers 404 from then on.
              Crontab lines and scripts that ping by slug must be given the new key, or their jobs go late and down.
            </p>
            <p>Each job's ping URL by its own token keeps working.</p>
          </>
        ) : (
          <>
            <p>
              Every status badge URL of this tenant stops working at once: <code safe>{`${baseUrl}/badge/${settings.badge_key}/…`}</code> answers 404 from then on,
              and READMEs and dashboards that show the badges show a broken image until they use the new key.
            </p>
          </>
        )}
        <p>This cannot be undone.</p>
        <form method="post" action="/settings/rotate-key" class="actions">
          <CsrfField token={shell.csrf} />
          <input type="hidden" name="key" value={which} />
          <button type="submit" class="button-danger" safe>
            {`Rotate the ${KEYS[which].title.toLowerCase()}`}
          </button>
          <a class="button button-quiet" href="/settings">
            Cancel
          </a>
        </form>
      </div>
    </SettingsFrame>
  );
}
