// The tenant's alert channels, /settings/channels: the list (each with its masked target, a Test
// button whose result shows in place, Edit and Remove), the form of each channel type (add and
// edit; a stored secret is never shown back, only that one is set), the test's own page for a
// browser without the script, and the page that asks before a channel is removed.
import type { Channel } from "../src/alerts/channels";
import { CHANNEL_TYPES, NTFY_PRIORITIES, PAGERDUTY_SEVERITIES, type ChannelType, type SendResult } from "../src/alerts/senders";
import { CsrfField, Field, FieldError, FormAlert, Submit, type FieldErrors } from "./components/form";
import { SelectField } from "./components/select";
import { SettingsFrame } from "./settings";
import type { Shell } from "./shell";

export const CHANNEL_TYPE_LABELS: Record<ChannelType, string> = {
  webhook: "Webhook",
  slack: "Slack",
  discord: "Discord",
  teams: "Microsoft Teams",
  email: "Email",
  pagerduty: "PagerDuty",
  ntfy: "ntfy",
};

/** Where a channel delivers, as the list shows it: its masked URL, its addresses, or its service. */
export function channelTarget(c: Pick<Channel, "type" | "config">): string {
  if (Array.isArray(c.config.to)) return c.config.to.join(", ");
  if (typeof c.config.url === "string") return c.config.url;
  return c.type === "pagerduty" ? "PagerDuty Events API v2" : "—";
}

const channelPath = (c: Pick<Channel, "id">) => `/settings/channels/${encodeURIComponent(c.id)}`;

/** A test's outcome: its place in the list (swapped by htmx) and on the test's own page. */
export function ChannelTestResult({ channel, result }: { channel: Pick<Channel, "id" | "type">; result: SendResult | null }) {
  const id = `test-${channel.id}`;
  if (!result) return <div id={id} class="test-result" aria-live="polite"></div>;
  const who = channel.type === "email" ? "the mail relay" : "the receiver";
  const said = result.ok ? `Test message sent: ${who} answered ${result.code ?? "OK"}` : `Not delivered: ${result.error ?? (result.code ? `${who} answered ${result.code}` : "no answer")}`;
  const text = /[.!?]$/.test(said) ? said : `${said}.`;
  return (
    <div id={id} class={`test-result ${result.ok ? "test-ok" : "test-failed"}`} role={result.ok ? "status" : "alert"} aria-live="polite" safe>
      {text}
    </div>
  );
}

function ChannelItem({ channel, canWrite, csrf }: { channel: Channel; canWrite: boolean; csrf: string }) {
  const path = channelPath(channel);
  return (
    <li class="item">
      <div class="item-head">
        <strong class="item-name" safe>
          {channel.name}
        </strong>
        <span class="chip" safe>
          {CHANNEL_TYPE_LABELS[channel.type] ?? channel.type}
        </span>
      </div>
      <code class="item-target" safe>
        {channelTarget(channel)}
      </code>
      {canWrite ? (
        <div class="item-actions">
          <form method="post" action={`${path}/test`} hx-post={`${path}/test`} hx-target={`#test-${channel.id}`} hx-swap="outerHTML" class="inline-form">
            <CsrfField token={csrf} />
            <button type="submit" class="button-quiet button-small" aria-label={`Test ${channel.name}`}>
              Test
            </button>
            <span class="htmx-indicator muted"> Sending…</span>
          </form>
          <a class="button button-quiet button-small" href={`${path}/edit`} aria-label={`Edit ${channel.name}`}>
            Edit
          </a>
          <a class="button button-quiet button-small button-danger-quiet" href={`${path}/remove`} aria-label={`Remove ${channel.name}`}>
            Remove…
          </a>
        </div>
      ) : null}
      <ChannelTestResult channel={channel} result={null} />
    </li>
  );
}

export function ChannelsPage({ shell, channels, canWrite }: { shell: Shell; channels: Channel[]; canWrite: boolean }) {
  return (
    <SettingsFrame shell={shell} title="Alert channels" current="/settings/channels">
      <div class="section-head">
        <p class="muted">
          A job alerts the channels its manifest names (<code>spec.alerts.channels</code>), or every channel when it names none.
        </p>
        {canWrite ? (
          <a class="button" href="/settings/channels/new">
            Add a channel
          </a>
        ) : null}
      </div>
      {channels.length === 0 ? (
        <div class="panel empty">
          <p>No channels yet: nothing is alerted when a job fails or goes down.</p>
        </div>
      ) : (
        <ul class="item-list" aria-label="Channels">
          {channels.map((c) => (
            <ChannelItem channel={c} canWrite={canWrite} csrf={shell.csrf} />
          ))}
        </ul>
      )}
    </SettingsFrame>
  );
}

/** The form's fields as typed (text), kept when it comes back with errors. Secrets are never filled in. */
export interface ChannelFormValues {
  name: string;
  url: string;
  secret: string;
  clear_secret: boolean;
  /** `Name: value`, one a line. */
  headers: string;
  /** Addresses, by comma or one a line. */
  to: string;
  routing_key: string;
  severity: string;
  token: string;
  clear_token: boolean;
  priority: string;
}

export const EMPTY_CHANNEL_VALUES: ChannelFormValues = {
  name: "",
  url: "",
  secret: "",
  clear_secret: false,
  headers: "",
  to: "",
  routing_key: "",
  severity: "",
  token: "",
  clear_token: false,
  priority: "",
};

export interface ChannelForm {
  /** The channel edited; null when adding one. */
  channel: Channel | null;
  /** The type whose fields the form shows. */
  type: ChannelType;
  values: ChannelFormValues;
  errors: FieldErrors;
  alert?: string;
}

/** The stored secrets of the channel edited, by field, when the form is for its own type. */
function storedSecrets(form: ChannelForm): { secret: boolean; token: boolean; routing_key: boolean } {
  const c = form.channel && form.channel.type === form.type ? form.channel.config : {};
  return { secret: !!c.secret, token: !!c.token, routing_key: !!c.routing_key };
}

function TextArea(p: { name: string; label: string; value: string; error?: string; hint: string; rows: number }) {
  return (
    <div class="field">
      <label for={p.name} safe>
        {p.label}
      </label>
      <textarea
        id={p.name}
        name={p.name}
        rows={String(p.rows)}
        class="mono"
        spellcheck="false"
        autocapitalize="none"
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={`${p.name}-hint${p.error ? ` ${p.name}-error` : ""}`}
        safe
      >
        {p.value}
      </textarea>
      <span class="hint" id={`${p.name}-hint`} safe>
        {p.hint}
      </span>
      <FieldError id={p.name} error={p.error} />
    </div>
  );
}

/** A secret: a password field left empty; when one is stored, the form says so and keeps it unless a new one is typed. */
function SecretField(p: { name: "secret" | "token" | "routing_key"; label: string; set: boolean; error?: string; hint: string; clear?: { name: string; label: string; checked: boolean } }) {
  return (
    <>
      <Field
        name={p.name}
        label={p.label}
        type="password"
        error={p.error}
        autocomplete="off"
        hint={p.set ? `One is set (not shown). Leave this empty to keep it, or type a new one to replace it. ${p.hint}` : p.hint}
        attrs={{ spellcheck: "false", autocapitalize: "none" }}
      />
      {p.set && p.clear ? (
        <div class="field check-field">
          <input type="checkbox" id={p.clear.name} name={p.clear.name} value="on" checked={p.clear.checked} />
          <label for={p.clear.name} safe>
            {p.clear.label}
          </label>
        </div>
      ) : null}
    </>
  );
}

function UrlField({ form, label, hint, required = true }: { form: ChannelForm; label: string; hint: string; required?: boolean }) {
  const masked = form.channel !== null && form.channel.type === form.type && form.values.url.includes("****");
  return (
    <Field
      name="url"
      label={label}
      type="url"
      value={form.values.url}
      error={form.errors.url}
      required={required}
      hint={masked ? `${hint} The secret part shows as ****: leave it as it is to keep the stored URL, or paste a whole new one.` : hint}
      attrs={{ spellcheck: "false", autocapitalize: "none", inputmode: "url" }}
    />
  );
}

function TypeFields({ form }: { form: ChannelForm }) {
  const v = form.values;
  const e = form.errors;
  const set = storedSecrets(form);
  switch (form.type) {
    case "webhook":
      return (
        <>
          <UrlField form={form} label="URL" hint="Any http(s) endpoint; each alert is a JSON POST. Credentials in the URL are sent as Basic auth." />
          <SecretField
            name="secret"
            label="Signing secret"
            set={set.secret}
            error={e.secret}
            hint="Optional: each request then carries X-Crontopus-Signature, an HMAC-SHA256 of its body."
            clear={{ name: "clear_secret", label: "Remove the signing secret", checked: v.clear_secret }}
          />
          <TextArea name="headers" label="Extra headers" value={v.headers} error={e.headers} rows={3} hint="Optional: Name: value, one a line. Values of secret-looking headers (Authorization, …) show as ********; leave those lines as they are to keep them." />
        </>
      );
    case "slack":
      return <UrlField form={form} label="Incoming webhook URL" hint="From a Slack app's Incoming Webhooks, https://hooks.slack.com/services/…" />;
    case "discord":
      return <UrlField form={form} label="Webhook URL" hint="From the channel's Integrations, https://discord.com/api/webhooks/…" />;
    case "teams":
      return <UrlField form={form} label="Workflow or webhook URL" hint="A Teams Workflows 'post to a channel when a webhook request is received' URL (or a legacy connector's)." />;
    case "email":
      return (
        <TextArea name="to" label="To" value={v.to} error={e.to} rows={2} hint="One or more addresses, separated by commas or one a line (at most 50). Mail goes through the server's SMTP relay (CRONTOPUS_SMTP_URL)." />
      );
    case "pagerduty":
      return (
        <>
          <SecretField name="routing_key" label="Integration key" set={set.routing_key} error={e.routing_key} hint="The routing key of an Events API v2 integration." />
          <SelectField
            name="severity"
            label="Severity"
            value={v.severity}
            error={e.severity}
            options={[["", "By event (critical; warning when late; info for tests)"], ...PAGERDUTY_SEVERITIES.map((s) => [s, s] as const)]}
          />
          <UrlField form={form} label="Events API URL" required={false} hint="Optional: leave empty for PagerDuty's own (https://events.pagerduty.com/v2/enqueue)." />
        </>
      );
    case "ntfy":
      return (
        <>
          <UrlField form={form} label="Topic URL" hint="The topic to publish to, e.g. https://ntfy.sh/my-topic (on ntfy.sh the topic name is the password)." />
          <SecretField
            name="token"
            label="Access token"
            set={set.token}
            error={e.token}
            hint="Optional: for a protected topic (sent as a Bearer token)."
            clear={{ name: "clear_token", label: "Remove the access token", checked: v.clear_token }}
          />
          <SelectField name="priority" label="Priority" value={v.priority} error={e.priority} options={[["", "By event (high for failures)"], ...NTFY_PRIORITIES.map((p) => [p, p] as const)]} />
        </>
      );
  }
}

export function ChannelFormPage({ shell, form }: { shell: Shell; form: ChannelForm }) {
  const c = form.channel;
  const base = c ? `${channelPath(c)}/edit` : "/settings/channels/new";
  const title = c ? `Edit channel ${c.name}` : "Add a channel";
  const action = `${base}?type=${form.type}`;
  return (
    <SettingsFrame shell={shell} title={title} current="/settings/channels">
      <nav class="tabs type-tabs" aria-label="Channel type">
        {CHANNEL_TYPES.map((t) => (
          <a href={`${base}?type=${t}`} aria-current={t === form.type ? "page" : undefined} safe>
            {CHANNEL_TYPE_LABELS[t]}
          </a>
        ))}
      </nav>
      <div class="panel">
        <FormAlert text={form.alert} />
        {c && c.type !== form.type ? (
          <p class="flash flash-info" safe>
            {`This changes the channel from ${CHANNEL_TYPE_LABELS[c.type]} to ${CHANNEL_TYPE_LABELS[form.type]}: its whole configuration is replaced by what you enter here.`}
          </p>
        ) : null}
        <form method="post" action={action} novalidate class="channel-form">
          <CsrfField token={shell.csrf} />
          <input type="hidden" name="type" value={form.type} />
          <Field
            name="name"
            label="Name"
            value={form.values.name}
            error={form.errors.name}
            required
            autofocus={!c}
            hint="Jobs name their channels by it: lower-case letters, digits and '-', e.g. ops-slack."
            attrs={{ spellcheck: "false", autocapitalize: "none" }}
          />
          <TypeFields form={form} />
          <div class="actions">
            <Submit>{c ? "Save" : "Add channel"}</Submit>
            <a class="button button-quiet" href="/settings/channels">
              Cancel
            </a>
          </div>
        </form>
      </div>
    </SettingsFrame>
  );
}

/** A test sent by a browser without the script: its outcome on a page of its own. */
export function ChannelTestPage({ shell, channel, result }: { shell: Shell; channel: Channel; result: SendResult }) {
  return (
    <SettingsFrame shell={shell} title={`Test of ${channel.name}`} current="/settings/channels">
      <div class="panel narrow">
        <ChannelTestResult channel={channel} result={result} />
        <p>
          <a href="/settings/channels">Back to the channels</a>
        </p>
      </div>
    </SettingsFrame>
  );
}

export function RemoveChannelPage({ shell, channel }: { shell: Shell; channel: Channel }) {
  return (
    <SettingsFrame shell={shell} title={`Remove channel ${channel.name}?`} current="/settings/channels">
      <div class="panel narrow">
        <p>
          No alert goes to <code safe>{channelTarget(channel)}</code> any more, and the channel's delivery history goes with it. Jobs that name it keep
          their other channels; a job that names only this one alerts nobody. This cannot be undone.
        </p>
        <form method="post" action={`${channelPath(channel)}/remove`} class="actions">
          <CsrfField token={shell.csrf} />
          <button type="submit" class="button-danger">
            Remove the channel
          </button>
          <a class="button button-quiet" href="/settings/channels">
            Cancel
          </a>
        </form>
      </div>
    </SettingsFrame>
  );
}
