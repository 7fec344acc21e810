-- Check-ins, runs, the status engine, alert channels and the notification outbox.

-- Per-tenant monitoring settings.
ALTER TABLE tenants ADD COLUMN ping_key TEXT;
ALTER TABLE tenants ADD COLUMN badge_key TEXT;
ALTER TABLE tenants ADD COLUMN auto_provision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE tenants ADD COLUMN retention_runs INTEGER NOT NULL DEFAULT 1000;
UPDATE tenants SET ping_key = lower(hex(randomblob(16))), badge_key = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX tenants_ping_key ON tenants(ping_key);
CREATE UNIQUE INDEX tenants_badge_key ON tenants(badge_key);

-- Alert policy, and the job's monitoring state (rebuilt from the check-in log after a crash).
ALTER TABLE jobs ADD COLUMN alert_after INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN min_runtime_s INTEGER;
ALTER TABLE jobs ADD COLUMN start_grace_s INTEGER;
ALTER TABLE jobs ADD COLUMN renotify_s INTEGER;
ALTER TABLE jobs ADD COLUMN channels TEXT;               -- JSON array of channel names; NULL = all of the tenant's
ALTER TABLE jobs ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN checkins_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN last_ping_at INTEGER;
ALTER TABLE jobs ADD COLUMN last_success_at INTEGER;
ALTER TABLE jobs ADD COLUMN last_failure_at INTEGER;
ALTER TABLE jobs ADD COLUMN last_duration_ms INTEGER;
ALTER TABLE jobs ADD COLUMN last_exit_code INTEGER;
ALTER TABLE jobs ADD COLUMN status_since INTEGER;
ALTER TABLE jobs ADD COLUMN expected_at INTEGER;          -- when the next run is due
ALTER TABLE jobs ADD COLUMN next_deadline INTEGER;        -- when the engine must look at this job next
ALTER TABLE jobs ADD COLUMN last_notified_at INTEGER;
ALTER TABLE jobs ADD COLUMN last_checkin_id INTEGER;       -- head of the job's check-in chain
ALTER TABLE jobs ADD COLUMN open_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN alerting INTEGER NOT NULL DEFAULT 0;  -- a trigger went out and no resolve yet
CREATE INDEX jobs_next_deadline ON jobs(next_deadline) WHERE next_deadline IS NOT NULL;

-- The durable record of every check-in, and the run history: appended on the request path
-- with no index on the job (random index writes cost more than everything else there).
-- The engine applies rows in id order, links each to the job's previous one (prev_id: a
-- job's history is that chain, read by rowid), pairs finishes with starts and judges them,
-- touching only recent rows. How far it got is in engine_state.
CREATE TABLE checkins (
  id          INTEGER PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  kind        TEXT NOT NULL,      -- start, success, fail, log
  status      TEXT NOT NULL,      -- running, success, failed, timeout, log; closed: a start its finish took over
  exit_code   INTEGER,
  rid         TEXT,
  received_at INTEGER NOT NULL,   -- when it happened (for results delivered late, their own time)
  started_at  INTEGER,
  duration_ms INTEGER,
  body        TEXT,
  truncated   INTEGER NOT NULL DEFAULT 0,
  source      TEXT,
  prev_id     INTEGER,            -- the job's previous check-in
  start_id    INTEGER,            -- for a finish: the start it closed
  reason      TEXT,
  deadline    INTEGER             -- for a running start: when it times out
);
CREATE INDEX checkins_tenant ON checkins(tenant_id, id);
CREATE INDEX checkins_open ON checkins(job_id, rid) WHERE status = 'running';
CREATE INDEX checkins_deadline ON checkins(deadline) WHERE status = 'running' AND deadline IS NOT NULL;

CREATE TABLE engine_state (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO engine_state (key, value) VALUES ('checkins_applied', 0);

CREATE TABLE flips (
  id          INTEGER PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL,
  reason      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX flips_job ON flips(job_id, id);

CREATE TABLE channels (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  type       TEXT NOT NULL,
  config     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);

-- The outbox: one row per (event, channel). dedup_key makes a second enqueue a no-op.
CREATE TABLE notifications (
  id              INTEGER PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  channel_id      TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
  job_id          TEXT,
  flip_id         INTEGER,
  event           TEXT NOT NULL,    -- trigger, resolve, renotify, test
  dedup_key       TEXT NOT NULL UNIQUE,
  payload         TEXT NOT NULL,    -- the message as built when queued
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  response_code   INTEGER,
  response_body   TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_job ON notifications(job_id, id);
