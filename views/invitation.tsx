// The page an invitation's link opens (GET /invitations/<token>), reachable signed out: what the
// invitation is (tenant, inviter, role, expiry), then the way to accept it for whoever looks:
// Accept for the invited user, log out for someone else, sign in or create the account signed out.
// A link that does not work (unknown, expired, revoked, used) gets one page for all.
import type { InvitationDescription } from "../src/tenants/invitations";
import { BareLayout } from "./layout";
import { CsrfField, Field, FormAlert, type FieldErrors } from "./components/form";
import { Since } from "./components/time";
import { ROLE_WORDS } from "./members";
import type { Shell } from "./shell";

/** Who opened the link. */
export type InvitationVisitor = { kind: "signed-out" } | { kind: "invited" } | { kind: "other"; email: string };

export interface SignUpForm {
  name: string;
  errors: FieldErrors;
}

export interface InvitationView {
  token: string;
  invitation: InvitationDescription;
  visitor: InvitationVisitor;
  signUp: SignUpForm;
  /** An error about the page's forms as a whole (an account that exists, a membership that does). */
  alert?: string;
  now: number;
}

export const invitationPath = (token: string) => `/invitations/${encodeURIComponent(token)}`;

function Facts({ view }: { view: InvitationView }) {
  const inv = view.invitation;
  return (
    <dl class="invitation-facts">
      <dt>Tenant</dt>
      <dd>
        <span safe>{inv.tenant.name}</span> <span class="muted" safe>{`(${inv.tenant.slug})`}</span>
      </dd>
      <dt>Invited by</dt>
      <dd safe>{inv.invited_by ?? "a former member"}</dd>
      <dt>For</dt>
      <dd safe>{inv.email}</dd>
      <dt>Role</dt>
      <dd>
        <strong>{inv.role}</strong>: <span safe>{ROLE_WORDS[inv.role]}</span>
      </dd>
      <dt>Expires</dt>
      <dd>
        <Since at={inv.expires_at} now={view.now} />
      </dd>
    </dl>
  );
}

function AcceptForm({ view, csrf }: { view: InvitationView; csrf: string }) {
  return (
    <form method="post" action={`${invitationPath(view.token)}/accept`}>
      <CsrfField token={csrf} />
      <button type="submit" safe>
        {`Accept and join ${view.invitation.tenant.name}`}
      </button>
    </form>
  );
}

function OtherAccount({ view, email, csrf }: { view: InvitationView; email: string; csrf: string }) {
  return (
    <div class="invitation-other">
      <p>
        You are signed in as <strong safe>{email}</strong>, and this invitation is for <strong safe>{view.invitation.email}</strong>. Log out, then sign in with that
        address or create its account here.
      </p>
      <form method="post" action="/logout">
        <CsrfField token={csrf} />
        <input type="hidden" name="next" value={invitationPath(view.token)} />
        <button type="submit" safe>
          {`Log out and continue as ${view.invitation.email}`}
        </button>
      </form>
    </div>
  );
}

function SignedOut({ view, csrf }: { view: InvitationView; csrf: string }) {
  const { invitation, signUp } = view;
  const here = invitationPath(view.token);
  return (
    <>
      <section class="invitation-way" aria-labelledby="have-account">
        <h2 id="have-account">Have an account with this address?</h2>
        <p>
          <a class="button" href={`/login?next=${encodeURIComponent(here)}`}>
            Sign in
          </a>{" "}
          <span class="muted">and come back here to accept.</span>
        </p>
      </section>
      <section class="invitation-way" aria-labelledby="new-account">
        <h2 id="new-account">New here? Create an account</h2>
        <form method="post" action={`${here}/sign-up`} novalidate>
          <CsrfField token={csrf} />
          <Field name="email" label="Email" type="email" value={invitation.email} autocomplete="username" hint="The invited address: the account is made with it." attrs={{ readonly: "" }} />
          <Field name="name" label="Your name" value={signUp.name} error={signUp.errors.name} autocomplete="name" />
          <Field name="password" label="Password" type="password" error={signUp.errors.password} autocomplete="new-password" hint="At least 8 characters." required />
          <Field name="confirm" label="Password again" type="password" error={signUp.errors.confirm} autocomplete="new-password" required />
          <button type="submit" safe>
            {`Create account and join ${invitation.tenant.name}`}
          </button>
        </form>
      </section>
    </>
  );
}

export function InvitationPage({ shell, view }: { shell: Shell; view: InvitationView }) {
  const inv = view.invitation;
  return (
    <BareLayout title={`Invitation to ${inv.tenant.name}`} shell={shell}>
      <div class="auth-card invitation">
        <h1 safe>{`Join ${inv.tenant.name}`}</h1>
        <p>
          <span safe>{inv.invited_by ?? "A former member"}</span> invited <strong safe>{inv.email}</strong> to join <strong safe>{inv.tenant.name}</strong> on Crontopus as{" "}
          <strong>{inv.role}</strong>.
        </p>
        <Facts view={view} />
        <FormAlert text={view.alert} />
        {view.visitor.kind === "invited" ? <AcceptForm view={view} csrf={shell.csrf} /> : null}
        {view.visitor.kind === "other" ? <OtherAccount view={view} email={view.visitor.email} csrf={shell.csrf} /> : null}
        {view.visitor.kind === "signed-out" ? <SignedOut view={view} csrf={shell.csrf} /> : null}
      </div>
    </BareLayout>
  );
}

/** A link that does not work: the same page whether it never did, expired, was revoked or used. */
export function InvitationGonePage({ shell }: { shell: Shell }) {
  return (
    <BareLayout title="Invitation link not valid" shell={shell}>
      <div class="auth-card">
        <h1>This invitation link does not work</h1>
        <p>
          An invitation link works once, for 7 days. It stops working when it is used, revoked, or replaced by a newer invitation to the same address. Ask the person who
          invited you for a new link.
        </p>
        <p>{shell.user ? <a href="/">Back to the dashboard</a> : <a href="/login">Sign in</a>}</p>
      </div>
    </BareLayout>
  );
}
