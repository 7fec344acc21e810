-- GitOps alerts and runtime overrides (docs/gitops.md).
-- alerting: 1 from the alert queued when a tenant's sync left ok (degraded or failing) until the
-- recovery alert: at most one alert per spell of trouble, however many bad syncs follow.
ALTER TABLE gitops_status ADD COLUMN alerting INTEGER NOT NULL DEFAULT 0;

-- Git's spec.paused for a git-managed job, as the last sync read it (NULL for jobs not from Git).
-- The job's own paused differs from it after a pause or resume through the API, console or CLI:
-- a runtime override, shown as such, which a sync keeps.
ALTER TABLE jobs ADD COLUMN source_paused INTEGER;
