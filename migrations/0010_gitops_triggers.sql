-- GitOps triggers (docs/gitops.md): the webhook deliveries each tenant has seen, so that a forge's
-- redelivery (the same id) does not sync twice, also after a restart; and the sync in progress, so
-- that a server stopped during one reports it honestly when it starts again.
CREATE TABLE gitops_deliveries (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  -- github, gitea, forgejo or gitlab: ids are per forge, so two forges' ids cannot collide
  forge       TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX gitops_deliveries_by_id ON gitops_deliveries(tenant_id, forge, delivery_id);
CREATE INDEX gitops_deliveries_by_tenant ON gitops_deliveries(tenant_id, id DESC);

-- Set while a sync runs (with its state `syncing`), cleared when it finishes.
ALTER TABLE gitops_status ADD COLUMN sync_started_at INTEGER;
ALTER TABLE gitops_status ADD COLUMN sync_trigger TEXT;
