-- Run histories forked by crashes are joined up again. Until this release, a server restarted
-- after a crash linked each job's first new check-in to the head its job row named, which was
-- written back up to a second before the crash: the check-ins of that second stayed in the log
-- but were no longer reachable from the job's history. Each check-in now links to the job's
-- previous one in the log, whatever the chain said.
UPDATE checkins SET prev_id = chain.prev
FROM (SELECT id, lag(id) OVER (PARTITION BY job_id ORDER BY id) AS prev FROM checkins) AS chain
WHERE checkins.id = chain.id AND checkins.prev_id IS NOT chain.prev;
