-- The jobs list's orders other than by name (listJobs' SORT_KEYS in src/jobs/jobs.ts), each an
-- index on exactly its sort key, so that a first page reads 51 rows instead of every job of the
-- tenant. The expressions must stay the very ones listJobs orders by: jobs.test.ts checks that the
-- query plan of each order uses its index.
CREATE INDEX jobs_order_status ON jobs(tenant_id, (CASE status WHEN 'failed' THEN 0 WHEN 'down' THEN 1 WHEN 'late' THEN 2 WHEN 'new' THEN 3 WHEN 'running' THEN 4 WHEN 'up' THEN 5 WHEN 'paused' THEN 6 ELSE 7 END), namespace, name);
CREATE INDEX jobs_order_last_run ON jobs(tenant_id, (ifnull(last_ping_at, -1)) DESC, namespace, name);
CREATE INDEX jobs_order_next_run ON jobs(tenant_id, (CASE WHEN paused = 1 OR expected_at IS NULL THEN 9000000000000000 ELSE expected_at END), namespace, name);
