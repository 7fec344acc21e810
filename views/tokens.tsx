// The signed-in user's API tokens in the tenant, /settings/tokens: the form that makes one (its
// secret shown on the answer, once, with a Copy button), and the list, each with Revoke.
import type { ApiToken } from "../src/auth/apitokens";
import type { Scope } from "../src/auth/principal";
import { CsrfField, Field, FieldError, FormAlert, Submit, type FieldErrors } from "./components/form";
import { CopyValue } from "./components/copy";
import { RevokeForm, SecretTimes } from "./components/secretitem";
import { SettingsFrame } from "./settings";
import type { Shell } from "./shell";

const SCOPE_HINTS: Record<Scope, string> = {
  read: "read: see jobs, runs, agents, channels and settings",
  write: "write: change jobs, ping, manage channels",
  admin: "admin: tenant settings, members, enrollment tokens, more tokens",
};

export interface TokenFormValues {
  name: string;
  scopes: Scope[];
  expires_in_days: string;
}

export interface TokensView {
  tokens: ApiToken[];
  /** The scopes the viewer's role allows: the only ones the form offers. */
  allowed: Scope[];
  values: TokenFormValues;
  errors: FieldErrors;
  alert?: string;
  /** The token just made, with its secret: shown on this answer only. */
  created?: { token: string; api_token: ApiToken };
  now: number;
  baseUrl: string;
}

function TokenForm({ view, csrf }: { view: TokensView; csrf: string }) {
  const v = view.values;
  const e = view.errors;
  return (
    <form method="post" action="/settings/tokens" novalidate class="token-form">
      <CsrfField token={csrf} />
      <FormAlert text={view.alert} />
      <div class="field-row">
        <Field name="name" label="Name" value={v.name} error={e.name} required hint="What it is for, e.g. ci-deploy. 1 to 100 characters." attrs={{ maxlength: "100" }} />
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
      <fieldset class="field scopes" aria-describedby={e.scopes ? "scopes-error" : undefined}>
        <legend>Scopes</legend>
        {view.allowed.map((s) => (
          <div class="check-field">
            <input type="checkbox" id={`scope-${s}`} name="scopes" value={s} checked={v.scopes.includes(s)} />
            <label for={`scope-${s}`} safe>
              {SCOPE_HINTS[s]}
            </label>
          </div>
        ))}
        <FieldError id="scopes" error={e.scopes} />
      </fieldset>
      <Submit>Create token</Submit>
    </form>
  );
}

function Created({ created, baseUrl }: { created: NonNullable<TokensView["created"]>; baseUrl: string }) {
  return (
    <section class="panel created" aria-labelledby="created-title">
      <h2 id="created-title" safe>{`Token ${created.api_token.name} created`}</h2>
      <p class="flash flash-info">Copy it now: it is shown this once. The server keeps only a hash of it.</p>
      <CopyValue id="new-token" label="The token" value={created.token} />
      <p class="muted">
        Use it as <code>Authorization: Bearer …</code>, or with the CLI: <code safe>{`CRONTOPUS_URL=${baseUrl} CRONTOPUS_TOKEN=… crontopus jobs list`}</code>
      </p>
    </section>
  );
}

function TokenItem({ token, now, csrf }: { token: ApiToken; now: number; csrf: string }) {
  const expired = token.expires_at !== null && token.expires_at <= now;
  return (
    <li class="item">
      <div class="item-head">
        <strong class="item-name" safe>
          {token.name}
        </strong>
        <code class="muted" safe>{`${token.prefix}…`}</code>
        {expired ? <span class="state state-spent">expired</span> : <span class="state state-usable">active</span>}
      </div>
      <dl class="item-facts">
        <div>
          <dt>Scopes</dt>
          <dd safe>{token.scopes.join(", ")}</dd>
        </div>
        <SecretTimes item={token} now={now} />
      </dl>
      <RevokeForm action={`/settings/tokens/${encodeURIComponent(token.id)}/revoke`} csrf={csrf} name={token.name} question={`Revoke the token ${token.name}? Whatever uses it is refused from then on.`} />
    </li>
  );
}

export function TokensPage({ shell, view }: { shell: Shell; view: TokensView }) {
  return (
    <SettingsFrame shell={shell} title="API tokens" current="/settings/tokens">
      {view.created ? <Created created={view.created} baseUrl={view.baseUrl} /> : null}
      <section class="panel" aria-labelledby="new-token-title">
        <h2 id="new-token-title">New token</h2>
        <p class="muted">
          A token acts as you, in this tenant only, with the scopes you give it (never more than your role allows). The CLI, scripts and the REST API
          (<a href="/api/docs">/api/docs</a>) use it.
        </p>
        <TokenForm view={view} csrf={shell.csrf} />
      </section>
      <section aria-labelledby="tokens-title">
        <h2 id="tokens-title">Your tokens</h2>
        {view.tokens.length === 0 ? (
          <div class="panel empty">
            <p>You have no API tokens in this tenant.</p>
          </div>
        ) : (
          <ul class="item-list" aria-labelledby="tokens-title">
            {view.tokens.map((t) => (
              <TokenItem token={t} now={view.now} csrf={shell.csrf} />
            ))}
          </ul>
        )}
      </section>
    </SettingsFrame>
  );
}
