// Sign-in, first-run setup and password change: ordinary forms that work without a script.
import { BareLayout, Layout } from "./layout";
import { CsrfField, Field, FormAlert, Submit, type FieldErrors } from "./components/form";
import type { Shell } from "./shell";

export interface LoginForm {
  email: string;
  next: string;
  errors: FieldErrors;
  /** An error about the form as a whole (too many attempts, an expired form). */
  alert?: string;
}

export function LoginPage({ shell, form }: { shell: Shell; form: LoginForm }) {
  return (
    <BareLayout title="Sign in" shell={shell}>
      <div class="auth-card">
        <h1>Sign in</h1>
        {shell.user ? (
          <p class="muted">
            Signed in as <strong safe>{shell.user.email}</strong>. <a href={form.next}>Continue</a>, or sign in as someone else.
          </p>
        ) : null}
        <FormAlert text={form.alert} />
        <form method="post" action="/login" novalidate>
          <CsrfField token={shell.csrf} />
          <input type="hidden" name="next" value={form.next} />
          <Field name="email" label="Email" type="email" value={form.email} error={form.errors.email} autocomplete="username" required autofocus={!form.email} />
          <Field name="password" label="Password" type="password" error={form.errors.password} autocomplete="current-password" required autofocus={!!form.email} />
          <Submit>Sign in</Submit>
        </form>
      </div>
    </BareLayout>
  );
}

export interface SetupForm {
  token: string;
  name: string;
  email: string;
  tenant: string;
  tenantName: string;
  errors: FieldErrors;
  alert?: string;
}

export function SetupPage({ shell, form }: { shell: Shell; form: SetupForm }) {
  return (
    <BareLayout title="Set up Crontopus" shell={shell}>
      <div class="auth-card">
        <h1>Set up Crontopus</h1>
        <p class="muted">Create the first owner and the first tenant. This link works once.</p>
        <FormAlert text={form.alert} />
        <form method="post" action="/setup" novalidate>
          <CsrfField token={shell.csrf} />
          <input type="hidden" name="token" value={form.token} />
          <Field name="name" label="Your name" value={form.name} error={form.errors.name} autocomplete="name" autofocus />
          <Field name="email" label="Email" type="email" value={form.email} error={form.errors.email} autocomplete="username" required />
          <Field name="password" label="Password" type="password" error={form.errors.password} autocomplete="new-password" hint="At least 8 characters." required />
          <Field name="tenant_name" label="Organisation" value={form.tenantName} error={form.errors.tenant_name} autocomplete="organization" hint="Shown in the console, e.g. Acme Inc." />
          <Field
            name="tenant"
            label="Tenant slug"
            value={form.tenant}
            error={form.errors.tenant}
            autocomplete="off"
            hint="Lowercase letters, digits and '-', e.g. acme. It names the tenant in the CLI and the API."
            required
          />
          <Submit>Create owner and tenant</Submit>
        </form>
      </div>
    </BareLayout>
  );
}

/** The answer to a setup link that is wrong, spent, or given out by a server that now has a user. */
export function SetupClosedPage({ shell }: { shell: Shell }) {
  return (
    <BareLayout title="Setup link not valid" shell={shell}>
      <div class="auth-card">
        <h1>This setup link does not work</h1>
        <p>
          A setup link works once, and only while the server has no user. Ask the person who runs the server, or sign in if you have an account.
        </p>
        <p>
          <a class="button" href="/login">
            Sign in
          </a>
        </p>
      </div>
    </BareLayout>
  );
}

export interface PasswordForm {
  errors: FieldErrors;
  alert?: string;
}

export function PasswordPage({ shell, form }: { shell: Shell; form: PasswordForm }) {
  return (
    <Layout shell={shell} title="Change password">
      <div class="page-head">
        <h1>Change password</h1>
      </div>
      <div class="panel narrow">
        <FormAlert text={form.alert} />
        <form method="post" action="/account/password" novalidate>
          <CsrfField token={shell.csrf} />
          <input type="text" name="username" value={shell.user?.email} autocomplete="username" hidden />
          <Field name="current" label="Current password" type="password" error={form.errors.current} autocomplete="current-password" required autofocus />
          <Field name="password" label="New password" type="password" error={form.errors.password} autocomplete="new-password" hint="At least 8 characters." required />
          <Field name="confirm" label="New password again" type="password" error={form.errors.confirm} autocomplete="new-password" required />
          <p class="muted">Your other sessions are signed out when the password changes.</p>
          <Submit>Change password</Submit>
        </form>
      </div>
    </Layout>
  );
}
