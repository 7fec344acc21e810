-- Invitations: an admin invites an e-mail address into a tenant with a role; the person accepts
-- with the one-time link (src/tenants/invitations.ts). Only the SHA-256 of the link's token is
-- stored. A row stays after it is accepted or revoked, so a used link is refused with a clear
-- reason; rows long past their expiry are deleted as the tenant invites again.
CREATE TABLE invitations (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email       TEXT NOT NULL COLLATE NOCASE,
  role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  token_hash  TEXT NOT NULL UNIQUE,
  invited_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_by TEXT REFERENCES users(id) ON DELETE SET NULL,
  revoked_at  INTEGER
);
CREATE INDEX invitations_tenant ON invitations(tenant_id, created_at);
