// The check-in write path: every check-in is appended to the `checkins` log, many per
// transaction (group commit), and its request is answered only after that commit.
// Nothing else happens on the request path; the engine applies the log in the background.
import type { Db } from "../db";

export type CheckinKind = "start" | "success" | "fail" | "log";

export interface CheckinEvent {
  job_id: string;
  kind: CheckinKind;
  exit_code: number | null;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  body: string | null;
  truncated: boolean;
  source: string | null;
}

interface Pending {
  event: CheckinEvent;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class CheckinWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly insert;
  /** Check-ins committed since start, for /metrics. */
  committed = 0;
  batches = 0;

  constructor(private readonly db: Db) {
    this.insert = db.query(
      `INSERT INTO checkins (job_id, kind, exit_code, rid, received_at, started_at, duration_ms, body, truncated, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    try {
      this.db.transaction(() => {
        for (const { event: e } of batch) {
          this.insert.run(e.job_id, e.kind, e.exit_code, e.rid, e.received_at, e.started_at, e.duration_ms, e.body, e.truncated ? 1 : 0, e.source);
        }
      })();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.committed += batch.length;
    this.batches++;
    for (const p of batch) p.resolve();
  }
}
