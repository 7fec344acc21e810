// Keeps the write-ahead log bounded under a steady stream of commits. The checkpoint worker
// copies frames back without ever waiting for the writer, so while commits keep coming it never
// copies the last of them, and SQLite starts the log over only after a checkpoint that copied
// every frame. Once the log passes its limit, and the worker has copied all but a few frames of
// it, the writer (the one connection that writes) runs a passive checkpoint itself right after a
// group commit: no other write can be in flight then, what is left to copy is small (so the
// event loop is held up for little), and the next commit starts the log from its beginning.
// The file keeps its size under load (writes reuse it: no blocks to allocate and zero on each
// round); when commits stop, it is copied back and truncated. The writer is the only connection
// that takes the write lock, so it never waits on anyone for it.
import { statSync } from "node:fs";
import type { Db } from "./db";

/** The log's size (frames in use) past which the writer restarts it between group commits. */
export const WAL_RESTART_BYTES = 8 * 1024 * 1024;
/** Retention and other bulk writers wait while more than this much of the log is in use. */
export const WAL_KEEP_BYTES = 4 * 1024 * 1024;
/** What the file is cut back to after a restart (journal_size_limit); idle, it is truncated to nothing. */
export const WAL_FILE_LIMIT_BYTES = 16 * 1024 * 1024;
/** The writer takes over once no more than this much is left for it to copy... */
const HANDOFF_BYTES = 1024 * 1024;
/** ...or at once past this size, when the worker cannot keep up (a slow disk). */
const HARD_BYTES = 32 * 1024 * 1024;

/**
 * Shared with the checkpoint worker: [0] 1 while the writer restarts the log (the worker skips
 * its rounds then); [1] and [2] the frames in the log and the frames copied back, as its last
 * round found them.
 */
export function sharedWalState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(12));
}

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
  /** How much of the log is in use (frames not yet restarted over), as last known: what others pace themselves by. */
  usedBytes = 0;
  private readonly frameBytes: number;

  /** Shared with the checkpoint worker (sharedWalState); null without one. */
  private readonly shared: Int32Array | null;

  constructor(
    db: Db,
    private readonly walPath: string,
    opts: { limit?: number; shared?: Int32Array } = {},
  ) {
    this.limit = opts.limit ?? WAL_RESTART_BYTES;
    this.shared = opts.shared ?? null;
    this.frameBytes = db.query<{ page_size: number }, []>("PRAGMA page_size").get()!.page_size + 24;
    db.exec(`PRAGMA journal_size_limit = ${WAL_FILE_LIMIT_BYTES}`);
    this.checkpoint = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)");
    const truncate = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)");
    let quiet = 0;
    this.timer = setInterval(() => {
      const size = walSize(this.walPath);
      // Without a worker the file's size is all there is to go by.
      const used = (this.usedBytes = this.shared ? Atomics.load(this.shared, 1) * this.frameBytes : size);
      const left = this.shared ? (Atomics.load(this.shared, 1) - Atomics.load(this.shared, 2)) * this.frameBytes : 0;
      this.setOver(used > this.limit && (left <= HANDOFF_BYTES || used > HARD_BYTES));
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
   * succeeds once the worker's round in flight ends. It pauses only once it has copied nearly
   * everything: the writer's checkpoint holds the event loop (and every ping) for as long as it
   * copies, and a megabyte or two left over took hundreds of milliseconds with the fsync.
   */
  private setOver(over: boolean): void {
    this.over = over;
    if (this.shared) Atomics.store(this.shared, 0, over ? 1 : 0);
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
          // The next commit starts the log over.
          if (this.shared) {
            Atomics.store(this.shared, 1, 0);
            Atomics.store(this.shared, 2, 0);
          }
          this.usedBytes = 0;
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
