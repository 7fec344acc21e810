-- Identity, tenancy, API tokens, namespaces and jobs.
-- Times are integer milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  is_operator   INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL
);

CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  slug       TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

-- Console sessions (lucia). expires_at is in seconds, as lucia's adapter writes it.
CREATE TABLE sessions (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL,
  tenant_id  TEXT REFERENCES tenants(id) ON DELETE SET NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- API tokens: only the SHA-256 of the secret is stored.
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  expires_at   INTEGER,
  last_used_at INTEGER,
  created_at   INTEGER NOT NULL
);
CREATE INDEX api_tokens_tenant_user ON api_tokens(tenant_id, user_id);

CREATE TABLE namespaces (
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE jobs (
  id             TEXT PRIMARY KEY,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  namespace      TEXT NOT NULL,
  name           TEXT NOT NULL,
  labels         TEXT NOT NULL DEFAULT '{}',
  annotations    TEXT NOT NULL DEFAULT '{}',
  schedule       TEXT NOT NULL,
  timezone       TEXT NOT NULL DEFAULT 'UTC',
  command        TEXT,
  args           TEXT NOT NULL DEFAULT '[]',
  working_dir    TEXT,
  env            TEXT NOT NULL DEFAULT '{}',
  grace_s        INTEGER NOT NULL,
  timeout_s      INTEGER,
  enabled        INTEGER NOT NULL DEFAULT 1,
  paused         INTEGER NOT NULL DEFAULT 0,
  -- new, up, running, late, down, failed, paused (kept current by the monitoring engine)
  status         TEXT NOT NULL DEFAULT 'new',
  agent_selector TEXT,
  ping_token     TEXT NOT NULL UNIQUE,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  UNIQUE (tenant_id, namespace, name),
  FOREIGN KEY (tenant_id, namespace) REFERENCES namespaces(tenant_id, name)
);
