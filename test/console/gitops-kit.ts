// What the console's GitOps tests share: a tenant of its own per story (owner, viewer, a bare
// repository over file://), so the tests run in any order, and a wait for the server's periodic
// scheduler to have taken its first turn, so that a "Sync now" after a new commit is that commit's
// own sync rather than a periodic one that fetched the head before it.
import { expect } from "bun:test";
import { findTenant } from "../../src/tenants/tenants";
import { gitopsStatus } from "../../src/gitops/sync";
import { manifest, TestRepo } from "../gitops-repo";
import { persona, type Persona, type TestServer } from "../helpers";

export { manifest, TestRepo };

export interface Story {
  slug: string;
  tenantId: string;
  owner: Persona;
  viewer: Persona | null;
  repo: TestRepo;
}

/** A new tenant `slug` owned by `<slug>-owner` (with `<slug>-viewer` a viewer, when asked), and an empty bare repository. */
export async function story(s: TestServer, slug: string, opts: { viewer?: boolean } = {}): Promise<Story> {
  const owner = await persona(s.db, `${slug}-owner`, slug, "owner");
  const viewer = opts.viewer ? await persona(s.db, `${slug}-viewer`, slug, "viewer") : null;
  return { slug, tenantId: findTenant(s.db, slug)!.id, owner, viewer, repo: new TestRepo() };
}

/**
 * Until the scheduler has made its first periodic sync of the tenant (it sets next_sync_at when it
 * starts one) and no sync runs. A connect is picked up within the scheduler's one-second tick; the
 * next periodic sync is an interval (60 s) later, longer than any test here.
 */
export async function settled(s: TestServer, tenantId: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (gitopsStatus(s.db, tenantId).next_sync_at === null || s.ctx.gitops.isRunning(tenantId)) {
    if (Date.now() > until) throw new Error(`the scheduler did not sync tenant ${tenantId} within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

/** Connects the story's repository through the API (as another surface would), then waits for the first periodic sync. */
export async function connectApi(s: TestServer, st: Story, over: Record<string, unknown> = {}): Promise<void> {
  const r = await s.api("/api/v1/gitops", { method: "PUT", token: st.owner.token, json: { url: st.repo.url, ...over } });
  expect(r.status).toBe(200);
  await settled(s, st.tenantId);
}

/** A manifest whose schedule does not parse, at line 6, column 3 (the `schedule:` key). */
export const BROKEN = 'apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  schedule: "not a schedule"\n';
