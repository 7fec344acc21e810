// A push webhook received at webhook_url: which tenant (the URL's id alone), whether the forge
// signed it with that tenant's secret (src/gitops/webhook.ts), what to do with it, and the
// deliveries seen before, kept per tenant in the database so that a redelivery does not sync
// twice, also after a restart. The sync itself runs in the background (GitopsSyncer.syncLatest).
// See docs/gitops.md, "Webhooks".
import type { Db } from "../db";
import { NotFound, Unauthorized } from "../errors";
import type { Logger } from "../log";
import type { SecretBox } from "../secrets";
import { findTenantByWebhookId, getGitopsSettings, readWebhookSecret } from "./settings";
import type { GitopsSyncer } from "./sync";
import { verifyWebhook, type Forge } from "./webhook";

/** Deliveries remembered per tenant: the newest ones; an older id would sync again (harmless: an unchanged head costs one fetch). */
export const KEPT_DELIVERIES = 1000;
/** The longest delivery id kept (forges send UUIDs or short numbers). */
const MAX_DELIVERY_ID = 200;

/**
 * Records that the tenant received this delivery; false when it had received it before (nothing
 * is written then). A delivery without an id is always new: nothing names it. Ids are per forge.
 */
export function recordDelivery(db: Db, tenantId: string, forge: Forge, delivery: string | null, now: number, keep = KEPT_DELIVERIES): boolean {
  if (!delivery) return true;
  const id = delivery.slice(0, MAX_DELIVERY_ID);
  return db.transaction(() => {
    const res = db
      .query("INSERT OR IGNORE INTO gitops_deliveries (tenant_id, forge, delivery_id, received_at) VALUES (?1, ?2, ?3, ?4)")
      .run(tenantId, forge, id, now);
    if (res.changes === 0) return false;
    // Bounded: the oldest beyond `keep` go.
    db.query(
      `DELETE FROM gitops_deliveries WHERE tenant_id = ?1 AND id <= (
         SELECT id FROM gitops_deliveries WHERE tenant_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
    ).run(tenantId, keep);
    return true;
  })();
}

export interface WebhookDeps {
  db: Db;
  secrets: SecretBox;
  syncer: GitopsSyncer;
  now: () => number;
  log?: Logger;
}

/** What became of a verified delivery: a sync started, a ping answered, or nothing (with why). */
export interface WebhookOutcome {
  result: "syncing" | "pong" | "ignored";
  reason: string;
  forge: Forge;
  delivery: string | null;
}

/**
 * Handles a delivery to the webhook whose URL carries `webhookId`. Throws NotFound for an unknown
 * id and Unauthorized for a bad or missing signature, before anything in the body is read.
 */
export function receiveWebhook(deps: WebhookDeps, webhookId: string, headers: Headers, rawBody: Uint8Array): WebhookOutcome {
  const { db, secrets } = deps;
  const tenantId = findTenantByWebhookId(db, webhookId);
  if (!tenantId) throw new NotFound("webhook");
  const verdict = verifyWebhook(headers, rawBody, readWebhookSecret(db, secrets, tenantId));
  if (!verdict.ok) throw new Unauthorized(verdict.reason);
  const { forge, delivery } = verdict;
  const settings = getGitopsSettings(db, secrets, tenantId);
  const outcome = (result: WebhookOutcome["result"], reason: string): WebhookOutcome => ({ result, reason, forge, delivery });
  if (verdict.event === "ping") return outcome("pong", `ping received: pushes to ${settings.branch} will sync`);
  if (verdict.event !== "push") return outcome("ignored", "not a push event: only pushes sync");
  if (verdict.branch === undefined) return outcome("ignored", "a push of no branch (a tag?): only pushes to a branch sync");
  if (verdict.branch !== settings.branch) return outcome("ignored", `a push to ${verdict.branch}, not to ${settings.branch}: nothing to sync`);
  if (!recordDelivery(db, tenantId, forge, delivery, deps.now())) return outcome("ignored", `delivery ${delivery} was received before: not synced again`);
  // In the background: the forge gets its answer at once. The result is in the status and history.
  deps.syncer.syncLatest(tenantId, "webhook").catch((e) => deps.log?.error("gitops webhook sync failed", { tenant_id: tenantId, error: e instanceof Error ? e.message : String(e) }));
  return outcome("syncing", `a sync of ${settings.branch} has started`);
}
