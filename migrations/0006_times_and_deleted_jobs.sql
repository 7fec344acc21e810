-- Check-ins stored before the rule on client-given times (readClientTimes in
-- src/checkins/checkins.ts: within retention, at most 5 minutes ahead, durations of at most
-- 31 days that fit the times) may hold values no Date can show, such as a duration of
-- 9000000000000000 ms or a start in the year -3,166,000, and jobs whose state followed them
-- (a next deadline in the year 287,000, so the job never goes late). Here they are clamped:
-- times into [1970, now + 5 minutes], impossible durations and starts dropped (NULL). A job
-- whose expectation came from such a time loses it and is due at once: the engine then
-- expects it from now on, as after a resume (state.ts, onDeadline).
CREATE TEMP TABLE m0006 AS
  SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER) AS now,
         CAST(unixepoch('subsec') * 1000 AS INTEGER) + 300000 AS latest,
         2678400000 AS max_duration;

-- The log, in one pass over the rows that need it. Every right-hand side sees the old row.
UPDATE checkins SET
  received_at = MIN(MAX(received_at, 0), (SELECT latest FROM m0006)),
  started_at = CASE
    WHEN started_at BETWEEN MIN(MAX(received_at, 0), (SELECT latest FROM m0006)) - (SELECT max_duration FROM m0006)
                    AND MIN(MAX(received_at, 0), (SELECT latest FROM m0006)) THEN started_at
    ELSE NULL END,
  duration_ms = CASE WHEN duration_ms BETWEEN 0 AND (SELECT max_duration FROM m0006) THEN duration_ms ELSE NULL END,
  -- A running start's timeout: one that can never come (or came before 1970) comes now.
  deadline = CASE
    WHEN deadline IS NULL OR deadline BETWEEN 0 AND (SELECT latest FROM m0006) + 366 * 86400000 THEN deadline
    ELSE (SELECT now FROM m0006) END
WHERE received_at NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR duration_ms NOT BETWEEN 0 AND (SELECT max_duration FROM m0006)
   OR started_at NOT BETWEEN received_at - (SELECT max_duration FROM m0006) AND received_at
   OR deadline NOT BETWEEN 0 AND (SELECT latest FROM m0006) + 366 * 86400000;

-- Jobs whose expectation came from an impossible time: no schedule runs more than 60 years
-- apart (schedule.ts scans 60 years), and none was expected after a check-in from the future.
UPDATE jobs SET expected_at = NULL, next_deadline = (SELECT now FROM m0006)
WHERE expected_at NOT BETWEEN 0 AND (SELECT latest FROM m0006) + 60 * 366 * 86400000
   OR next_deadline NOT BETWEEN 0 AND (SELECT latest FROM m0006) + 60 * 366 * 86400000
   OR last_ping_at > (SELECT latest FROM m0006)
   OR last_success_at > (SELECT latest FROM m0006)
   OR last_failure_at > (SELECT latest FROM m0006);

UPDATE jobs SET
  last_ping_at = MIN(MAX(last_ping_at, 0), (SELECT latest FROM m0006)),
  last_success_at = MIN(MAX(last_success_at, 0), (SELECT latest FROM m0006)),
  last_failure_at = MIN(MAX(last_failure_at, 0), (SELECT latest FROM m0006)),
  status_since = MIN(MAX(status_since, 0), (SELECT latest FROM m0006)),
  last_notified_at = MIN(MAX(last_notified_at, 0), (SELECT latest FROM m0006)),
  last_duration_ms = CASE WHEN last_duration_ms BETWEEN 0 AND (SELECT max_duration FROM m0006) THEN last_duration_ms ELSE NULL END
WHERE last_ping_at NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR last_success_at NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR last_failure_at NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR status_since NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR last_notified_at NOT BETWEEN 0 AND (SELECT latest FROM m0006)
   OR last_duration_ms NOT BETWEEN 0 AND (SELECT max_duration FROM m0006);

DROP TABLE m0006;

-- A deleted job's check-ins (and their output) go in slices in the background (purgeSlice in
-- src/runs/runs.ts): each row here is a job whose chain is still being walked down from
-- head_id by prev_id; then the ids above scan_from (up to scan_to, the newest id when the walk
-- ended) are looked through for its check-ins the engine had not applied when it was deleted.
-- Jobs deleted before this migration left their check-ins behind: their chains start at
-- their newest row.
CREATE TABLE deleted_jobs (
  job_id    TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  head_id   INTEGER,
  scan_from INTEGER NOT NULL,
  scan_to   INTEGER
);
INSERT INTO deleted_jobs (job_id, tenant_id, head_id, scan_from, scan_to)
  SELECT job_id, tenant_id, max(id), max(id), max(id) FROM checkins WHERE job_id NOT IN (SELECT id FROM jobs) GROUP BY job_id;
