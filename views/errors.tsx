// What the console answers when a page cannot be shown: the status in words and a way on.
import { BareLayout, Layout } from "./layout";
import type { Shell } from "./shell";

export function ErrorPage({ status, title, message }: { status: number; title: string; message: string }) {
  return (
    <BareLayout title={title}>
      <div class="auth-card">
        <h1 safe>{title}</h1>
        <p safe>{message}</p>
        <p class="muted" safe>{`HTTP ${status}`}</p>
        <p>
          <a href="/">Back to the dashboard</a>
        </p>
      </div>
    </BareLayout>
  );
}

/** A signed-in user who acts in no tenant: nothing to show until they switch to one or an owner adds them. */
export function NoTenantPage({ shell }: { shell: Shell }) {
  return (
    <Layout shell={shell} title="No tenant">
      <div class="panel empty">
        <h1>No tenant yet</h1>
        <p>{shell.tenants.length ? "Choose one of your tenants above." : "You are not a member of any tenant. Ask a tenant's owner to invite you."}</p>
      </div>
    </Layout>
  );
}
