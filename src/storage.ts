// Whether the database takes writes. Degraded from the first storage fault (disk full, I/O
// error, read-only) of a commit until a commit succeeds again; GET /health reports it.
import type { Db } from "./db";
import type { StorageUnavailable } from "./errors";
import type { Logger } from "./log";

export interface StorageFault {
  reason: string;
  /** When the first failed commit of this spell happened (ms). */
  since: number;
  /** When the latest one did. */
  last: number;
}

/**
 * Writes one small row and commits it: throws if the database cannot take a write now. (Asking
 * for the write lock is not enough: in WAL mode that touches only shared memory, and succeeds
 * on a read-only file system.)
 */
export function probeWrite(db: Db, now: number): void {
  db.query("INSERT INTO engine_state (key, value) VALUES ('storage_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(now);
}

/**
 * A degraded server tries a write of its own once no commit has failed for this long (ms).
 * While writes keep coming and failing, they are the test; and a one-row probe could fit in
 * room the WAL has left where the failed batch did not, and say "ok" too early.
 */
export const PROBE_AFTER_MS = 10_000;

export class StorageStatus {
  fault: StorageFault | null = null;

  constructor(
    private readonly db: Db,
    private readonly log: Logger | null = null,
  ) {}

  /** A commit failed for lack of storage: nothing it carried was stored. */
  failed(e: StorageUnavailable, now: number): void {
    if (this.fault) {
      this.fault.last = now;
      return;
    }
    this.fault = { reason: e.reason, since: now, last: now };
    this.log?.error("storage fault: writes are refused with 503 until a commit succeeds", { reason: e.reason });
  }

  /** A commit went through: the storage takes writes again. */
  succeeded(now = Date.now()): void {
    if (!this.fault) return;
    this.log?.info("storage recovered: writes succeed again", { reason: this.fault.reason, for_ms: now - this.fault.since });
    this.fault = null;
  }

  /**
   * The current fault, if any. A server degraded for a while with no write failing since (no
   * check-in reaching it) first tries a one-row write of its own, so it sees space come back.
   */
  check(now: number): StorageFault | null {
    if (!this.fault || now - this.fault.last < PROBE_AFTER_MS) return this.fault;
    try {
      probeWrite(this.db, now);
      this.succeeded(now);
    } catch {
      // Still failing: the probe is the latest failed write.
      this.fault.last = now;
    }
    return this.fault;
  }
}
