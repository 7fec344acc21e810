// The tenant's GitOps page, /settings/gitops: the state of the last sync (its commit, errors linked
// to their file and line on the forge, the orphans) with "Sync now", the plan of the branch head
// (loaded after the page, since it fetches), the sync history, the repository's settings (a form
// for owners and admins, facts for everyone else, never a credential), the deploy key, the webhook
// URL and secret to copy, each forge's steps, and Disconnect. Pure: data in, HTML out.
import type { GitopsSettings } from "../src/gitops/settings";
import type { gitopsStatus, listSyncs, SyncResult } from "../src/gitops/sync";
import type { FileError, Plan, PlanItem, PlanUpdate } from "../src/gitops/plan";
import { forgeCommitUrl, forgeFileUrl, forgeRepo } from "../src/gitops/forge";
import { formatDuration } from "../src/jobs/schedule";
import { CsrfField, Field, FieldError, FormAlert, Submit, TextArea, type FieldErrors } from "./components/form";
import { CopyValue } from "./components/copy";
import { durationText, Since } from "./components/time";
import { SettingsFrame } from "./settings";
import type { Shell } from "./shell";

export type GitopsStatus = ReturnType<typeof gitopsStatus>;
export type SyncPage = ReturnType<typeof listSyncs>;
export type SyncState = GitopsStatus["state"];

/** The form's fields as typed, kept when it comes back with errors. */
export interface GitopsFormValues {
  url: string;
  branch: string;
  path: string;
  interval: string;
  prune: boolean;
  write_back: boolean;
  ssh_known_hosts: string;
  remove_token: boolean;
}

/** The plan of the branch head, or why there is none. */
export type PlanOutcome = { plan: Plan } | { error: string };

export interface GitopsView {
  /** Null: no repository connected. */
  settings: GitopsSettings | null;
  webhookUrl: string | null;
  /** Owners and admins only. */
  webhookSecret: string | null;
  status: GitopsStatus;
  /** Of the last plan applied: git-managed jobs whose file is gone, kept (prune off). */
  orphans: PlanItem[];
  syncs: SyncPage;
  /** The history shows an older page (`?syncs=<cursor>`). */
  olderSyncs: boolean;
  /** Settings, deploy key, webhook secret, disconnect: the admin scope (owners and admins). */
  canAdmin: boolean;
  /** Sync now: the write scope (members too), as POST /api/v1/gitops/sync. */
  canWrite: boolean;
  values: GitopsFormValues;
  errors: FieldErrors;
  alert?: string;
  now: number;
  /** What "Sync now" just answered, shown above the status. */
  result?: SyncResult | null;
  /** The plan rendered into the page (`?plan=1`, for a browser without the script); else loaded by htmx. */
  plan?: PlanOutcome;
}

export const NEW_GITOPS: GitopsFormValues = { url: "", branch: "main", path: "", interval: "60s", prune: false, write_back: false, ssh_known_hosts: "", remove_token: false };

export const gitopsValuesOf = (s: GitopsSettings): GitopsFormValues => ({
  url: s.url,
  branch: s.branch,
  path: s.path,
  interval: formatDuration(s.interval_s),
  prune: s.prune,
  write_back: s.write_back,
  ssh_known_hosts: s.ssh_known_hosts ?? "",
  remove_token: false,
});

const STATE_WORDS: Record<SyncState, string> = {
  never: "not synced yet",
  syncing: "a sync is running",
  ok: "the commit is applied",
  degraded: "applied, with file errors: their jobs were kept as they were",
  failing: "nothing could be applied",
};

/** A sync's state as a badge: colour, a shape (gitops.css) and the word, on data-gitops-state. */
export function SyncStateBadge({ state }: { state: string }) {
  return (
    <span class="status gitops-state" data-gitops-state={state} safe>
      {state}
    </span>
  );
}

const short = (sha: string) => sha.slice(0, 12);

/** A commit, linked to its page on the forge where the remote has one. */
function Commit({ url, sha }: { url: string; sha: string | null }) {
  if (!sha) return <span class="muted">—</span>;
  const href = forgeCommitUrl(url, sha);
  return href ? (
    <a href={href} class="mono" title={sha} safe>
      {short(sha)}
    </a>
  ) : (
    <code title={sha} safe>
      {short(sha)}
    </code>
  );
}

/** A file (at a line), linked to it on the forge where the remote allows; plain text otherwise. */
/** A remote's URL, linked to its page on the forge where it has one (plain text for ssh to an unknown host, file://). */
export function RepoLink({ url }: { url: string }) {
  const repo = forgeRepo(url);
  return repo ? (
    <a href={repo.web} safe>
      {url}
    </a>
  ) : (
    <code safe>{url}</code>
  );
}

export function FileRef({ url, commit, path, line, column }: { url: string; commit: string | null; path: string | null; line?: number | null; column?: number | null }) {
  if (!path) return <span class="muted">—</span>;
  const text = line ? `${path}:${line}${column ? `:${column}` : ""}` : path;
  const href = forgeFileUrl(url, commit, path, line);
  return href ? (
    <a href={href} class="mono file-ref" safe>
      {text}
    </a>
  ) : (
    <code class="file-ref" safe>
      {text}
    </code>
  );
}

function FileErrors({ url, commit, errors }: { url: string; commit: string | null; errors: FileError[] }) {
  return (
    <ul class="gitops-errors">
      {errors.map((e) => (
        <li>
          <FileRef url={url} commit={commit} path={e.path} line={e.line} column={e.column} />{" "}
          <span class="log-reason" safe>
            {e.message}
          </span>
        </li>
      ))}
    </ul>
  );
}

const jobHref = (j: { namespace: string; name: string }) => `/jobs/${encodeURIComponent(j.namespace)}/${encodeURIComponent(j.name)}`;

function countsText(c: Partial<Record<"create" | "update" | "unchanged" | "adopt" | "delete" | "orphan", number>>): string {
  const parts = [
    c.create ? `${c.create} created` : "",
    c.update ? `${c.update} updated` : "",
    c.adopt ? `${c.adopt} adopted` : "",
    c.delete ? `${c.delete} deleted` : "",
    c.orphan ? `${c.orphan} ${c.orphan === 1 ? "orphan" : "orphans"}` : "",
    c.unchanged ? `${c.unchanged} unchanged` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "no jobs";
}

/** The prune guard stopped the sync: a failing result that carries the plan it refused. */
const guardStopped = (r: SyncResult) => r.state === "failing" && !!r.plan && r.plan.delete.length > 0;

/** What "Sync now" answered, above the status; with the prune guard's own question when it stopped the sync. */
function SyncNotice({ result, csrf }: { result: SyncResult; csrf: string }) {
  const failed = result.state === "failing";
  const head = result.commit ? `Synced ${short(result.commit)}: ${result.state}.` : `Sync ${result.state}.`;
  const detail = result.message ?? (result.plan ? `${countsText({ ...result.plan, create: result.plan.create.length, update: result.plan.update.length, adopt: result.plan.adopt.length, delete: result.plan.delete.length, orphan: result.plan.orphan.length })}.` : "");
  return (
    <div class={`sync-result ${failed ? "flash flash-error" : result.state === "degraded" ? "flash flash-info" : "flash flash-ok"}`} role={failed ? "alert" : "status"}>
      <p safe>{`${head} ${detail}`.trim()}</p>
      {guardStopped(result) && result.commit ? (
        <form method="post" action="/settings/gitops/sync" class="inline-form">
          <CsrfField token={csrf} />
          <input type="hidden" name="confirm_prune" value={result.commit} />
          <button type="submit" class="button-danger button-small" data-confirm={`Delete ${result.plan!.delete.length} git-managed jobs whose files are gone from ${short(result.commit)}?`} safe>
            {`Sync ${short(result.commit)} anyway, deleting ${result.plan!.delete.length} jobs`}
          </button>
        </form>
      ) : null}
    </div>
  );
}

const ms = (iso: string | null) => (iso ? Date.parse(iso) : null);

/** The state of the last sync, its errors and orphans, and Sync now: the part "Sync now" swaps. */
export function GitopsStatusPart({ view, csrf }: { view: GitopsView; csrf: string }) {
  const { status, settings } = view;
  const url = settings!.url;
  return (
    <section id="gitops-status" class="panel" aria-labelledby="status-title">
      <div class="section-head">
        <h2 id="status-title">Sync</h2>
        {view.canWrite ? (
          <form method="post" action="/settings/gitops/sync" hx-post="/settings/gitops/sync" hx-target="#gitops-status" hx-swap="outerHTML" hx-disable="find button" class="inline-form">
            <CsrfField token={csrf} />
            <button type="submit">Sync now</button>
            <span class="htmx-indicator muted"> Syncing…</span>
          </form>
        ) : null}
      </div>
      {view.result ? <SyncNotice result={view.result} csrf={csrf} /> : null}
      <p class="gitops-state-line">
        <SyncStateBadge state={status.state} /> <span safe>{STATE_WORDS[status.state]}</span>
      </p>
      {status.message ? (
        <p class="gitops-message" safe>
          {status.message}
        </p>
      ) : null}
      <dl class="facts">
        <div>
          <dt>Commit</dt>
          <dd>
            <Commit url={url} sha={status.commit} />
          </dd>
        </div>
        <div>
          <dt>Last good commit</dt>
          <dd>
            <Commit url={url} sha={status.last_good_commit} />
          </dd>
        </div>
        <div>
          <dt>Last sync</dt>
          <dd>
            <Since at={ms(status.last_sync_at)} now={view.now} />
          </dd>
        </div>
        <div>
          <dt>Next sync</dt>
          <dd>
            <Since at={ms(status.next_sync_at)} now={view.now} />
          </dd>
        </div>
        <div>
          <dt>Last plan applied</dt>
          <dd safe>{status.state === "never" ? "—" : countsText(status.plan)}</dd>
        </div>
      </dl>
      {status.errors.length ? (
        <>
          <h3 safe>{`Errors (${status.errors.length})`}</h3>
          <p class="muted">Each file's jobs stay as they were until the file is fixed.</p>
          <FileErrors url={url} commit={status.commit} errors={status.errors} />
        </>
      ) : null}
      {view.orphans.length ? (
        <>
          <h3 safe>{`Orphans (${view.orphans.length})`}</h3>
          <p class="muted">Their manifest is gone from the repository. With prune off they are kept as they are: delete them by turning prune on, or put their file back.</p>
          <ul class="gitops-orphans">
            {view.orphans.map((o) => (
              <li>
                <a href={jobHref(o)} safe>
                  {`${o.namespace}/${o.name}`}
                </a>{" "}
                <span class="muted">
                  {"was "}
                  <code safe>{o.path ?? "?"}</code>
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

function Changes({ changes }: { changes: PlanUpdate["changes"] }) {
  if (!changes.length) return null;
  return (
    <ul class="plan-changes">
      {changes.map((c) => (
        <li>
          <code safe>{c.field}</code>: <code safe>{JSON.stringify(c.from) ?? "null"}</code>
          {" → "}
          <code safe>{JSON.stringify(c.to) ?? "null"}</code>
        </li>
      ))}
    </ul>
  );
}

function PlanList({ sign, verb, items, url, commit }: { sign: string; verb: string; items: (PlanItem | PlanUpdate)[]; url: string; commit: string | null }) {
  return (
    <>
      {items.map((i) => (
        <li class={`plan-item plan-${verb}`}>
          <span class="plan-sign" aria-hidden="true" safe>
            {sign}
          </span>
          <span class="plan-verb" safe>
            {verb}
          </span>{" "}
          <strong safe>{`${i.namespace}/${i.name}`}</strong> <FileRef url={url} commit={verb === "delete" || verb === "orphan" ? null : commit} path={i.path} />
          {"changes" in i ? <Changes changes={i.changes} /> : null}
        </li>
      ))}
    </>
  );
}

/**
 * What a sync of the branch head would do. Without `outcome` a placeholder that htmx replaces as
 * soon as the page has loaded (GET /settings/gitops/plan: it fetches, which may take seconds), with
 * a link that renders it into the page for a browser without the script. `oob` when "Sync now"
 * sends it along: it replaces the plan shown, which is then fetched again.
 */
export function GitopsPlan({ url, outcome, oob }: { url: string; outcome?: PlanOutcome; oob?: boolean }) {
  if (!outcome) {
    return (
      <section
        id="gitops-plan"
        class="panel"
        aria-labelledby="plan-title"
        hx-get="/settings/gitops/plan"
        hx-trigger="load"
        hx-swap="outerHTML"
        hx-swap-oob={oob ? "true" : undefined}
      >
        <h2 id="plan-title">Plan of the branch head</h2>
        <p class="muted" aria-live="polite">
          <span class="plan-loading">Fetching the branch to see what a sync would do…</span> <a href="/settings/gitops?plan=1#gitops-plan">Show the plan</a>
        </p>
      </section>
    );
  }
  if ("error" in outcome) {
    return (
      <section id="gitops-plan" class="panel" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan of the branch head</h2>
        <p class="flash flash-error" role="alert" safe>
          {`Could not fetch the branch: ${outcome.error}`}
        </p>
      </section>
    );
  }
  const p = outcome.plan;
  const changes = p.create.length + p.update.length + p.adopt.length + p.delete.length;
  return (
    <section id="gitops-plan" class="panel" aria-labelledby="plan-title">
      <h2 id="plan-title">Plan of the branch head</h2>
      <p class="muted">
        {"What a sync of "}
        <Commit url={url} sha={p.commit} />
        <span safe>{` would do: ${changes === 0 && !p.errors.length ? "nothing, the jobs are as the commit says" : `${p.create.length} to create, ${p.update.length} to update, ${p.adopt.length} to adopt, ${p.delete.length} to delete`}; ${p.unchanged} unchanged.`}</span>
      </p>
      {changes || p.orphan.length || p.errors.length ? (
        <ul class="plan">
          <PlanList sign="+" verb="create" items={p.create} url={url} commit={p.commit} />
          <PlanList sign="~" verb="update" items={p.update} url={url} commit={p.commit} />
          <PlanList sign="=" verb="adopt" items={p.adopt} url={url} commit={p.commit} />
          <PlanList sign="-" verb="delete" items={p.delete} url={url} commit={p.commit} />
          <PlanList sign="?" verb="orphan" items={p.orphan} url={url} commit={p.commit} />
          {p.errors.map((e) => (
            <li class="plan-item plan-error">
              <span class="plan-sign" aria-hidden="true">
                !
              </span>
              <span class="plan-verb">error</span> <FileRef url={url} commit={p.commit} path={e.path} line={e.line} column={e.column} />{" "}
              <span class="log-reason" safe>
                {e.message}
              </span>
            </li>
          ))}
        </ul>
      ) : null}
      {p.skipped.length ? (
        <details>
          <summary safe>{`${p.skipped.length} ${p.skipped.length === 1 ? "file" : "files"} skipped (not Crontopus manifests)`}</summary>
          <ul class="plan-skipped">
            {p.skipped.map((s) => (
              <li>
                <code safe>{s}</code>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

const firstLine = (text: string | null) => (text ?? "").split("\n")[0];

/** Syncs of the history, and the link to older ones: inside the page, and alone as that link's answer. */
export function SyncEntries({ url, syncs, now }: { url: string; syncs: SyncPage; now: number }) {
  return (
    <>
      {syncs.syncs.map((s) => (
        <li class="sync-entry">
          <span class="sync-head">
            <SyncStateBadge state={s.state} /> <Commit url={url} sha={s.commit} />{" "}
            <span class="sync-message" safe>
              {firstLine(s.message)}
            </span>
          </span>
          <span class="sync-facts muted">
            <Since at={ms(s.started_at)} now={now} />
            <span safe>{` · ${s.trigger} · ${durationText(s.duration_ms)}${s.author ? ` · ${s.author}` : ""} · ${s.state === "failing" && !Object.keys(s.counts).length ? "nothing applied" : countsText(s.counts)}`}</span>
          </span>
          {s.error ? (
            <span class="log-reason" safe>
              {s.error}
            </span>
          ) : null}
        </li>
      ))}
      {syncs.next_cursor ? (
        <li id="syncs-more" class="log-more">
          <a
            href={`/settings/gitops?syncs=${encodeURIComponent(syncs.next_cursor)}#gitops-history`}
            hx-get={`/settings/gitops/syncs?cursor=${encodeURIComponent(syncs.next_cursor)}`}
            hx-target="#syncs-more"
            hx-swap="outerHTML"
          >
            Older syncs
          </a>
        </li>
      ) : null}
    </>
  );
}

/** The sync history, newest first; `oob` when "Sync now" sends it along to be swapped in by its id. */
export function SyncHistory({ url, syncs, now, older = false, oob }: { url: string; syncs: SyncPage; now: number; older?: boolean; oob?: boolean }) {
  return (
    <section id="gitops-history" class="panel" aria-labelledby="history-title" hx-swap-oob={oob ? "true" : undefined}>
      <h2 id="history-title">History</h2>
      {older ? (
        <p>
          <a href="/settings/gitops#gitops-history">Newest first</a>
        </p>
      ) : null}
      {syncs.syncs.length ? (
        <ol class="sync-list">
          <SyncEntries url={url} syncs={syncs} now={now} />
        </ol>
      ) : (
        <p class="muted">No sync yet.</p>
      )}
    </section>
  );
}

function Check({ name, label, checked, hint, error }: { name: string; label: string; checked: boolean; hint: string; error?: string }) {
  return (
    <div class="field check-field">
      <input type="checkbox" id={name} name={name} value="on" checked={checked} aria-describedby={`${name}-hint${error ? ` ${name}-error` : ""}`} />
      <label for={name} safe>
        {label}
      </label>
      <span class="hint" id={`${name}-hint`} safe>
        {hint}
      </span>
      <FieldError id={name} error={error} />
    </div>
  );
}

function SettingsForm({ view, csrf }: { view: GitopsView; csrf: string }) {
  const v = view.values;
  const e = view.errors;
  const s = view.settings;
  return (
    <form method="post" action="/settings/gitops" novalidate class="settings-form">
      <CsrfField token={csrf} />
      <FormAlert text={view.alert} />
      <Field
        name="url"
        label="Repository URL"
        value={v.url}
        error={e.url}
        required
        hint="https://github.com/acme/jobs.git with an access token, or git@github.com:acme/jobs.git with a deploy key."
        attrs={{ spellcheck: "false", autocapitalize: "off" }}
      />
      <div class="field-row">
        <Field name="branch" label="Branch" value={v.branch} error={e.branch} hint="The branch synced." />
        <Field name="path" label="Path" value={v.path} error={e.path} hint="The directory read, below the root. Empty: the whole repository." />
        <Field name="interval" label="Sync every" value={v.interval} error={e.interval} hint="Like a job's grace: 60s, 5m. At least 10s." />
      </div>
      <Check name="prune" label="Prune" checked={v.prune} error={e.prune} hint="Delete git-managed jobs whose manifest is gone. Off: they are kept as orphans. A sync that would delete all of them, or more than half of more than 10, stops and asks." />
      <Check name="write_back" label="Write back" checked={v.write_back} error={e.write_back} hint="Edits of git-managed jobs in the console and the API are committed to the branch and pushed (the credentials must be able to push). Off: those jobs change only in the repository." />
      <Field
        name="token"
        label="Access token"
        type="password"
        error={e.token}
        autocomplete="off"
        hint={s?.has_token ? "A token is stored (it is never shown). Empty: keep it; a new one replaces it." : "For an https remote: a token that can read the repository (and push, for write back). Stored encrypted, never shown again."}
      />
      {s?.has_token ? <Check name="remove_token" label="Remove the stored token" checked={v.remove_token} hint="For a public repository, or when moving to a deploy key." /> : null}
      <TextArea
        name="ssh_known_hosts"
        label="SSH known hosts"
        value={v.ssh_known_hosts}
        error={e.ssh_known_hosts}
        rows={2}
        mono
        hint="For an ssh remote: the host keys it must present, as ssh-keyscan prints them. Empty: the key it shows first is pinned."
      />
      <Submit>{s ? "Save settings" : "Connect the repository"}</Submit>
    </form>
  );
}

function ReadOnlySettings({ s }: { s: GitopsSettings }) {
  return (
    <dl class="facts">
      <div>
        <dt>Repository</dt>
        <dd>
          <RepoLink url={s.url} />
        </dd>
      </div>
      <div>
        <dt>Branch</dt>
        <dd>
          <code safe>{s.branch}</code>
        </dd>
      </div>
      <div>
        <dt>Path</dt>
        <dd>{s.path ? <code safe>{s.path}</code> : "the whole repository"}</dd>
      </div>
      <div>
        <dt>Sync every</dt>
        <dd safe>{formatDuration(s.interval_s)}</dd>
      </div>
      <div>
        <dt>Prune</dt>
        <dd>{s.prune ? "on" : "off"}</dd>
      </div>
      <div>
        <dt>Write back</dt>
        <dd>{s.write_back ? "on" : "off"}</dd>
      </div>
      <div>
        <dt>Credentials</dt>
        <dd>{s.has_token ? "an access token" : s.has_ssh_key ? "a deploy key" : "none"}</dd>
      </div>
    </dl>
  );
}

/** The deploy key: the public half to paste into the forge, made by the server. */
function DeployKey({ s, csrf }: { s: GitopsSettings; csrf: string }) {
  return (
    <section class="panel" aria-labelledby="deploy-key-title">
      <h2 id="deploy-key-title">Deploy key</h2>
      <p class="muted">
        For an ssh remote: the server makes an ed25519 key pair and keeps the private key, encrypted. Paste the public key into the repository's deploy keys (write access only
        for write back). Making a new one replaces the old.
      </p>
      {s.ssh_public_key ? (
        <div id="deploy-key-value">
          <CopyValue id="deploy-key" label="Public key" value={s.ssh_public_key} />
        </div>
      ) : null}
      <form method="post" action="/settings/gitops/deploy-key" class="inline-form">
        <CsrfField token={csrf} />
        {s.ssh_public_key ? (
          <button type="submit" class="button-quiet" data-confirm="Make a new deploy key? The old one stops working: paste the new one into the forge.">
            Make a new deploy key
          </button>
        ) : (
          <button type="submit" class="button-quiet">Make deploy key</button>
        )}
      </form>
    </section>
  );
}

function Webhook({ view, csrf }: { view: GitopsView; csrf: string }) {
  return (
    <section class="panel" aria-labelledby="webhook-title">
      <h2 id="webhook-title">Webhook</h2>
      <p class="muted">A push webhook syncs at once instead of at the next interval. The URL names this tenant; the secret proves the forge sent it.</p>
      <CopyValue id="webhook-url" label="Webhook URL" value={view.webhookUrl ?? ""} />
      {view.webhookSecret !== null ? (
        <>
          <CopyValue id="webhook-secret" label="Webhook secret" value={view.webhookSecret} />
          <form method="post" action="/settings/gitops/webhook-secret" class="inline-form">
            <CsrfField token={csrf} />
            <button type="submit" class="button-quiet button-small" data-confirm="Replace the webhook secret? The forge's deliveries fail until it has the new one.">
              Rotate the secret
            </button>
          </form>
        </>
      ) : (
        <p class="muted">Owners and admins see the secret.</p>
      )}
    </section>
  );
}

/** Where each forge takes the credentials and the webhook. */
function ForgeSteps({ webhookUrl }: { webhookUrl: string | null }) {
  const url = webhookUrl ? <code safe>{webhookUrl}</code> : <span>the webhook URL above</span>;
  return (
    <section class="panel forge-steps" aria-labelledby="steps-title">
      <h2 id="steps-title">Steps on the forge</h2>
      <details>
        <summary>GitHub</summary>
        <ol>
          <li>
            Access: a fine-grained personal access token with <em>Contents: Read-only</em> on the repository (<em>Read and write</em> for write back) in the token field, or the
            deploy key under <em>Settings → Deploy keys → Add deploy key</em> (tick <em>Allow write access</em> only for write back).
          </li>
          <li>
            Webhook: <em>Settings → Webhooks → Add webhook</em>. Payload URL: {url}. Content type: <code>application/json</code>. Secret: the webhook secret. Events:{" "}
            <em>Just the push event</em>. GitHub's first delivery is a ping, answered at once.
          </li>
        </ol>
      </details>
      <details>
        <summary>Gitea and Forgejo</summary>
        <ol>
          <li>
            Access: a token from <em>Settings → Applications</em> with repository read access (write for write back), or the deploy key under{" "}
            <em>Repository → Settings → Deploy keys</em> (<em>Enable write access</em> only for write back).
          </li>
          <li>
            Webhook: <em>Repository → Settings → Webhooks → Add webhook → Gitea</em> (or <em>Forgejo</em>). Target URL: {url}. HTTP method <code>POST</code>, POST content type{" "}
            <code>application/json</code>. Secret: the webhook secret. Trigger on: <em>Push events</em>; the branch filter may stay empty (other branches are ignored).
          </li>
        </ol>
      </details>
      <details>
        <summary>GitLab</summary>
        <ol>
          <li>
            Access: a project access token with <em>read_repository</em> (<em>write_repository</em> for write back), or the deploy key under{" "}
            <em>Settings → Repository → Deploy keys</em> (<em>Grant write permissions</em> only for write back).
          </li>
          <li>
            Webhook: <em>Settings → Webhooks → Add new webhook</em>. URL: {url}. Secret token: the webhook secret. Trigger: <em>Push events</em> (GitLab always sends JSON). Keep{" "}
            <em>Enable SSL verification</em> on: GitLab signs nothing, so TLS is what protects the body.
          </li>
        </ol>
      </details>
    </section>
  );
}

export function GitopsPage({ shell, view }: { shell: Shell; view: GitopsView }) {
  const s = view.settings;
  if (!s) {
    return (
      <SettingsFrame shell={shell} title="GitOps" current="/settings/gitops">
        <section class="panel" aria-labelledby="connect-title">
          <h2 id="connect-title">Connect a repository</h2>
          <p class="muted">
            Make a Git repository the source of truth for this tenant's jobs: each commit on the branch becomes the jobs, with a plan first. Every <code>*.yaml</code>,{" "}
            <code>*.yml</code> and <code>*.json</code> with <code>apiVersion: crontopus/v1</code> below the path is a job; <code>crontopus jobs export --dir</code> writes
            today's jobs as such files.
          </p>
          {view.canAdmin ? <SettingsForm view={view} csrf={shell.csrf} /> : <p>No repository is connected. The tenant's owners and admins connect one.</p>}
        </section>
        <ForgeSteps webhookUrl={null} />
      </SettingsFrame>
    );
  }
  return (
    <SettingsFrame shell={shell} title="GitOps" current="/settings/gitops">
      <GitopsStatusPart view={view} csrf={shell.csrf} />
      <GitopsPlan url={s.url} outcome={view.plan} />
      <SyncHistory url={s.url} syncs={view.syncs} now={view.now} older={view.olderSyncs} />
      <section class="panel" aria-labelledby="repo-title">
        <h2 id="repo-title">Repository</h2>
        {view.canAdmin ? <SettingsForm view={view} csrf={shell.csrf} /> : <ReadOnlySettings s={s} />}
        {view.canAdmin ? null : <p class="muted">Only the tenant's owners and admins change these.</p>}
      </section>
      {view.canAdmin ? <DeployKey s={s} csrf={shell.csrf} /> : null}
      <Webhook view={view} csrf={shell.csrf} />
      <ForgeSteps webhookUrl={view.webhookUrl} />
      {view.canAdmin ? (
        <section class="panel" aria-labelledby="disconnect-title">
          <h2 id="disconnect-title">Disconnect</h2>
          <p class="muted">The jobs stay, as ordinary jobs that the console and the API change.</p>
          <a class="button button-quiet button-danger-quiet" href="/settings/gitops/disconnect">
            Disconnect…
          </a>
        </section>
      ) : null}
    </SettingsFrame>
  );
}

/** Disconnecting asks first, on a page of its own. */
export function DisconnectPage({ shell, settings, managed }: { shell: Shell; settings: GitopsSettings; managed: number }) {
  return (
    <SettingsFrame shell={shell} title="Disconnect the repository?" current="/settings/gitops">
      <div class="panel narrow">
        <p>
          {"Crontopus stops syncing "}
          <code safe>{settings.url}</code>
          <span safe>{`. The ${managed} ${managed === 1 ? "job" : "jobs"} it made stay, as ordinary jobs: their history, ping URLs and agents' lines are kept, and the console and the API change them again. The stored credentials and the webhook secret are deleted.`}</span>
        </p>
        <form method="post" action="/settings/gitops/disconnect" class="actions">
          <CsrfField token={shell.csrf} />
          <button type="submit" class="button-danger">
            Disconnect
          </button>
          <a class="button button-quiet" href="/settings/gitops">
            Cancel
          </a>
        </form>
      </div>
    </SettingsFrame>
  );
}
