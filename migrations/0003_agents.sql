-- Agents: hosts enrolled with a token that reconcile their crontab / Task Scheduler against
-- the jobs the server assigns them. The agent never runs jobs; the host's scheduler does.

-- spec.user: whose crontab holds the job's entry (an agent running as root only).
ALTER TABLE jobs ADD COLUMN run_as TEXT;

CREATE TABLE enrollment_tokens (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE,   -- SHA-256 of cte_…; the token itself is shown once
  prefix      TEXT NOT NULL,
  labels      TEXT NOT NULL DEFAULT '{}',   -- given to every agent enrolled with it
  max_uses    INTEGER,
  uses        INTEGER NOT NULL DEFAULT 0,
  expires_at  INTEGER,
  created_by  TEXT,
  created_at  INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX enrollment_tokens_tenant ON enrollment_tokens(tenant_id, created_at);

CREATE TABLE agents (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  hostname      TEXT NOT NULL,
  machine_id    TEXT NOT NULL,
  platform      TEXT NOT NULL,      -- linux, darwin, windows
  arch          TEXT NOT NULL,
  os_version    TEXT,
  scheduler     TEXT NOT NULL,      -- crontab, schtasks
  version       TEXT,
  labels        TEXT NOT NULL DEFAULT '{}',
  token_hash    TEXT UNIQUE,        -- SHA-256 of the current cta_… token; NULL once revoked
  enrolled_with TEXT,               -- enrollment token id
  status        TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
  status_since  INTEGER NOT NULL,
  interval_s    INTEGER NOT NULL,
  last_seen_at  INTEGER,
  next_deadline INTEGER,            -- when it goes offline without another heartbeat
  last_sync_at  INTEGER,            -- last report
  desired_etag  TEXT,               -- what it last fetched
  alerting      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (tenant_id, machine_id)
);
CREATE INDEX agents_next_deadline ON agents(next_deadline) WHERE next_deadline IS NOT NULL;

-- A job's instance on an agent: what the agent last reported for it.
CREATE TABLE agent_jobs (
  agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  tenant_id  TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('applied', 'drifted', 'error')),
  message    TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, job_id)
);
CREATE INDEX agent_jobs_job ON agent_jobs(job_id);

-- Entries the agent found on its host that Crontopus does not manage.
CREATE TABLE agent_discovered (
  agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  id         TEXT NOT NULL,         -- the agent's id for the line (hash of it)
  tenant_id  TEXT NOT NULL,
  user       TEXT,
  schedule   TEXT NOT NULL,
  command    TEXT NOT NULL,
  line       TEXT NOT NULL,
  adopted_job_id TEXT,              -- set by adopt; the next report replaces the line with a managed one
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, id)
);

CREATE TABLE agent_flips (
  id          INTEGER PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL,
  reason      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX agent_flips_agent ON agent_flips(agent_id, id);
