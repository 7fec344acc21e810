// The check-in write path: every check-in is appended to the `checkins` log, many per
// transaction (group commit), and its request is answered only after that commit.
// Nothing else happens on the request path; the engine applies the log in the background.
import type { Db } from "../db";

export type CheckinKind = "start" | "success" | "fail" | "log";

export interface CheckinEvent {
  tenant_id: string;
  job_id: string;
  /** The job's newest check-in id as the database knew it when the job was looked up. */
  last_checkin_id: number | null;
  kind: CheckinKind;
  exit_code: number | null;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  body: string | null;
  truncated: boolean;
  source: string | null;
  /** "timeout": a wrapper killed the run at the job's timeout (kind fail). */
  timed_out?: boolean;
}

/** A check-in's status as written; the engine may judge a finish otherwise (e.g. too short). */
const STATUS_OF: Record<CheckinKind, string> = { start: "running", success: "success", fail: "failed", log: "log" };

interface Pending {
  event: CheckinEvent;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class CheckinWriter {
  private queue: Pending[] = [];
  /** The newest check-in id written per job: each new row links to it (prev_id), so a job's
   *  history is a chain read by rowid and the append needs no index on the job. */
  private readonly heads = new Map<string, number>();
  private scheduled = false;
  private readonly insert;
  /** Check-ins committed since start, for /metrics. */
  committed = 0;
  batches = 0;

  constructor(private readonly db: Db) {
    this.insert = db.query(
      `INSERT INTO checkins (tenant_id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms, body, truncated, source, prev_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Resolves once the check-in is committed. */
  append(event: CheckinEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // Everything that arrives in this turn of the event loop shares one commit.
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    // Heads move only once the batch is committed.
    const moved = new Map<string, number>();
    try {
      this.db.transaction(() => {
        for (const { event: e } of batch) {
          const prev = moved.get(e.job_id) ?? this.heads.get(e.job_id) ?? e.last_checkin_id;
          const { lastInsertRowid } = this.insert.run(
            e.tenant_id, e.job_id, e.kind, (e.timed_out ? "timeout" : STATUS_OF[e.kind]), e.exit_code, e.rid, e.received_at, e.started_at, e.duration_ms,
            e.body, e.truncated ? 1 : 0, e.source, prev,
          );
          moved.set(e.job_id, Number(lastInsertRowid));
        }
      })();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const [job, id] of moved) this.heads.set(job, id);
    this.committed += batch.length;
    this.batches++;
    for (const p of batch) p.resolve();
  }
}
