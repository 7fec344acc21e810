// The purge of deleted jobs' check-ins: cross-tenant on purpose. A job's delete queues its
// history (deleted_jobs, with the tenant it belonged to); a background step deletes it a little
// at a time, whoever it belonged to. Nothing here answers a tenant's request.
import type { Db } from "../db";

/**
 * A job was deleted: its check-ins go after it, walked down its chain from `head` (the newest
 * check-in applied) by the background purge, then looked for among the ids the engine had
 * not applied yet. Run in the transaction that deletes the job.
 */
export function queueJobPurge(db: Db, tenantId: string, jobId: string, head: number | null): void {
  const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()?.value ?? 0;
  db.query(
    `INSERT INTO deleted_jobs (job_id, tenant_id, head_id, scan_from, scan_to) VALUES (?, ?, ?, ?, NULL)
     ON CONFLICT (job_id) DO UPDATE SET head_id = excluded.head_id, scan_from = excluded.scan_from, scan_to = NULL`,
  ).run(jobId, tenantId, head, applied);
}

/** Ids looked through per step for a deleted job's check-ins the engine had not applied. */
const PURGE_SCAN = 2000;

/**
 * One bounded step of the purge of deleted jobs' check-ins: at most `rows` rows deleted and
 * PURGE_SCAN ids looked through, in one short transaction, so pings waiting for the writer's
 * next commit are never held up for long. Only rows the engine has applied are deleted (the
 * writer and the engine count on the newer ones); the rest wait for a later step. Returns the
 * rows deleted plus the ids looked through; 0 when there is nothing to do now.
 */
export function purgeSlice(db: Db, rows = 200): number {
  let work = 0;
  db.transaction(() => {
    const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()?.value ?? 0;
    const jobs = db.query<{ job_id: string; tenant_id: string; head_id: number | null; scan_from: number; scan_to: number | null }, []>(
      "SELECT job_id, tenant_id, head_id, scan_from, scan_to FROM deleted_jobs LIMIT 10",
    ).all();
    const link = db.query<{ job_id: string; tenant_id: string; prev_id: number | null }, [number]>("SELECT job_id, tenant_id, prev_id FROM checkins WHERE id = ?");
    const del = db.query("DELETE FROM checkins WHERE id = ?");
    for (const j of jobs) {
      if (work >= rows) break;
      // The chain, newest first.
      let id = j.head_id;
      while (id !== null && id <= applied && work < rows) {
        const r = link.get(id);
        // Gone already (retention), or no longer this job's: the chain ends here.
        if (!r || r.job_id !== j.job_id || r.tenant_id !== j.tenant_id) id = null;
        else {
          del.run(id);
          work++;
          id = r.prev_id;
        }
      }
      if (id !== null) {
        db.query("UPDATE deleted_jobs SET head_id = ? WHERE job_id = ?").run(id, j.job_id);
        continue;
      }
      // Then the ids the engine had not applied when the job went, up to the newest id now.
      const top = j.scan_to ?? db.query<{ top: number | null }, []>("SELECT max(id) AS top FROM checkins").get()?.top ?? 0;
      const upTo = Math.min(top, applied, j.scan_from + PURGE_SCAN);
      if (upTo > j.scan_from) {
        work += db.query("DELETE FROM checkins WHERE id > ? AND id <= ? AND job_id = ? AND tenant_id = ?").run(j.scan_from, upTo, j.job_id, j.tenant_id).changes;
        work += Math.ceil((upTo - j.scan_from) / 10);
      }
      const from = Math.max(j.scan_from, upTo);
      if (from >= top) db.query("DELETE FROM deleted_jobs WHERE job_id = ?").run(j.job_id);
      else db.query("UPDATE deleted_jobs SET head_id = NULL, scan_from = ?, scan_to = ? WHERE job_id = ?").run(from, top, j.job_id);
    }
  })();
  return work;
}

/**
 * Runs purgeSlice in the background: every `everyMs` while there is work, one slice at a time
 * with a pause between them (the event loop serves pings and commits in between).
 */
export function startPurger(db: Db, onError: (e: unknown) => void, everyMs = 1000, pauseMs = 5): { stop(): void } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const step = (delay: number) => {
    if (!stopped) timer = setTimeout(run, delay);
  };
  const run = () => {
    let n = 0;
    try {
      n = purgeSlice(db);
    } catch (e) {
      onError(e);
    }
    step(n > 0 ? pauseMs : everyMs);
  };
  step(everyMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
