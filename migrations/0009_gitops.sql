-- GitOps (docs/gitops.md): a tenant's repository settings, the state of its last sync, the history
-- of its syncs, and each job's source in Git. Credentials and the webhook secret are sealed with
-- the data directory's key file (src/secrets.ts), like channel secrets: a copy of the database
-- alone reveals none of them.
CREATE TABLE gitops_settings (
  tenant_id       TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  url             TEXT NOT NULL,
  branch          TEXT NOT NULL DEFAULT 'main',
  path            TEXT NOT NULL DEFAULT '',
  interval_s      INTEGER NOT NULL DEFAULT 60,
  prune           INTEGER NOT NULL DEFAULT 0,
  write_back      INTEGER NOT NULL DEFAULT 0,
  -- enc:v1:… of {"token"?: …, "ssh_key"?: …}, or NULL without credentials
  credentials     TEXT,
  ssh_known_hosts TEXT,
  ssh_public_key  TEXT,
  -- the webhook's URL names the tenant by this id alone
  webhook_id      TEXT NOT NULL UNIQUE,
  webhook_secret  TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

CREATE TABLE gitops_status (
  tenant_id        TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  -- never, syncing, ok, degraded, failing
  state            TEXT NOT NULL DEFAULT 'never',
  commit_sha       TEXT,
  last_good_commit TEXT,
  last_sync_at     INTEGER,
  last_success_at  INTEGER,
  next_sync_at     INTEGER,
  failures_total   INTEGER NOT NULL DEFAULT 0,
  message          TEXT,
  errors           TEXT NOT NULL DEFAULT '[]',
  -- the last plan computed, as GET /api/v1/gitops/plan answers it (JSON)
  plan             TEXT
);

CREATE TABLE gitops_syncs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  commit_sha  TEXT,
  author      TEXT,
  message     TEXT,
  trigger     TEXT NOT NULL,
  state       TEXT NOT NULL,
  counts      TEXT NOT NULL DEFAULT '{}',
  error       TEXT,
  started_at  INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX gitops_syncs_by_tenant ON gitops_syncs(tenant_id, id DESC);

-- A job from Git: the remote, the file below the repository root, the commit that last wrote it.
-- NULL for jobs made through the API, the console or the CLI.
ALTER TABLE jobs ADD COLUMN source_repository TEXT;
ALTER TABLE jobs ADD COLUMN source_path TEXT;
ALTER TABLE jobs ADD COLUMN source_commit TEXT;
