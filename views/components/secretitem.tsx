// What the settings lists of secrets (API tokens, enrollment tokens) show alike for each item:
// when it was made, when it expires and was last used, and its Revoke form with the question asked
// before. Each list adds its own facts before these.
import { CsrfField } from "./form";
import { Since, Time } from "./time";

/** Created, Expires and Last used, as facts of a <dl>. */
export function SecretTimes({ item, now }: { item: { created_at: number; expires_at: number | null; last_used_at: number | null }; now: number }) {
  return (
    <>
      <div>
        <dt>Created</dt>
        <dd>
          <Time at={item.created_at} />
        </dd>
      </div>
      <div>
        <dt>Expires</dt>
        <dd>{item.expires_at === null ? "never" : <Since at={item.expires_at} now={now} />}</dd>
      </div>
      <div>
        <dt>Last used</dt>
        <dd>{item.last_used_at === null ? "never" : <Since at={item.last_used_at} now={now} />}</dd>
      </div>
    </>
  );
}

/** The Revoke button of one item, which asks `question` first (data-confirm). */
export function RevokeForm({ action, csrf, name, question }: { action: string; csrf: string; name: string; question: string }) {
  return (
    <form method="post" action={action} class="item-actions">
      <CsrfField token={csrf} />
      <button type="submit" class="button-quiet button-small button-danger-quiet" aria-label={`Revoke ${name}`} data-confirm={question}>
        Revoke
      </button>
    </form>
  );
}
