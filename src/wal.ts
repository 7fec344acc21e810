// Keeps the write-ahead log bounded under a steady stream of commits. The checkpoint worker
// copies frames back without ever waiting for the writer, so while commits keep coming it never
// copies the last of them, and SQLite starts the log over only after a checkpoint that copied
// every frame. Once the log passes its limit, the writer (the one connection that writes) runs a
// passive checkpoint itself right after a group commit: no other write can be in flight then,
// the worker has already copied almost everything, and the next commit starts the log from its
// beginning (journal_size_limit then cuts the file back). When commits stop, the file is
// truncated: the writer is the only connection that takes the write lock, so it never waits on
// anyone for it.
import { statSync } from "node:fs";
import type { Db } from "./db";

/** The WAL size past which the writer checkpoints between group commits. */
export const WAL_RESTART_BYTES = 8 * 1024 * 1024;
/** What a restarted WAL file is cut back to. */
export const WAL_KEEP_BYTES = 4 * 1024 * 1024;

export class WalGuard {
  private readonly limit: number;
  private over = false;
  private pending = false;
  /** Commits since the last round of the timer: none means the load has stopped. */
  private commits = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly checkpoint;
  /** Checkpoints run by the writer, for /metrics. */
  restarts = 0;
  /** The WAL's size as last sampled (every 100 ms): what others pace themselves by. */
  bytes = 0;

  /** Shared with the checkpoint worker: 1 while the writer waits to restart the log. */
  private readonly paused: Int32Array | null;

  constructor(
    db: Db,
    private readonly walPath: string,
    opts: { limit?: number; paused?: Int32Array } = {},
  ) {
    this.limit = opts.limit ?? WAL_RESTART_BYTES;
    this.paused = opts.paused ?? null;
    db.exec(`PRAGMA journal_size_limit = ${WAL_KEEP_BYTES}`);
    this.checkpoint = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)");
    const truncate = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)");
    let quiet = 0;
    this.timer = setInterval(() => {
      const size = (this.bytes = walSize(this.walPath));
      this.setOver(size > this.limit);
      quiet = this.commits === 0 ? quiet + 1 : 0;
      this.commits = 0;
      try {
        // Idle for half a second with a log left over: copy it back and cut the file.
        // Never wait for the lock here (a backup or an admin command may hold it): try again next round.
        if (quiet >= 5 && size > 0) {
          db.exec("PRAGMA busy_timeout = 0");
          try {
            truncate.get();
          } finally {
            db.exec("PRAGMA busy_timeout = 5000");
          }
        }
        // No commit may come for a while: do it now, between turns of the event loop.
        else if (this.over) this.restartSoon();
      } catch {
        // Disk full or similar: next round.
      }
    }, 100);
    this.timer.unref?.();
  }

  /**
   * Past the limit the worker pauses: its passive checkpoints hold the checkpoint lock, and on a
   * starved machine (a busy test suite) every try of the writer's found it held for seconds while
   * the log grew (measured: 43-148 MB). Alone, the writer's first try between two commits
   * succeeds once the worker's round in flight ends.
   */
  private setOver(over: boolean): void {
    this.over = over;
    if (this.paused) Atomics.store(this.paused, 0, over ? 1 : 0);
  }

  /** Called by the writer after each group commit. */
  afterCommit(): void {
    this.commits++;
    this.restartSoon();
  }

  private restartSoon(): void {
    if (!this.over || this.pending) return;
    this.pending = true;
    // After the batch's answers have gone out, before the next batch is written.
    setImmediate(() => {
      this.pending = false;
      if (!this.over) return;
      try {
        const r = this.checkpoint.get()!;
        if (r.busy === 0 && r.log === r.checkpointed) {
          this.setOver(false);
          this.restarts++;
        }
      } catch {
        // Disk full or similar: the worker and the next round try again.
      }
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.setOver(false);
  }
}

function walSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
