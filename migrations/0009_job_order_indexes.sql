-- The jobs list's orders by last check-in and by next expected run (listJobs' SORT_KEYS in
-- src/jobs/jobs.ts), each an index on exactly its sort key, so that a first page reads 51 rows
-- instead of every job of the tenant (46 and 29 ms p95 at 10,000 jobs in scripts/bench/console.ts).
-- The expressions must stay the very ones listJobs orders by: list.test.ts checks that the query
-- plan of each order uses its index. The status order has none: its sort reads every job too, but
-- costs 13 ms p95 at 10,000 jobs, and each index costs every write-back of a job's state about
-- 1 µs (12 ms per 10,000 write-backs in one transaction without these, 35 ms with both).
CREATE INDEX jobs_order_last_run ON jobs(tenant_id, (ifnull(last_ping_at, -1)) DESC, namespace, name);
CREATE INDEX jobs_order_next_run ON jobs(tenant_id, (CASE WHEN paused = 1 OR expected_at IS NULL THEN 9000000000000000 ELSE expected_at END), namespace, name);
