// Scheduled backups inside `serve`: at each time of CRONTOPUS_BACKUP_SCHEDULE (UTC), a backup
// into <data dir>/backups, then the oldest scheduled ones past CRONTOPUS_BACKUP_KEEP go. A time
// missed while the server was down is not made up; one that comes while the last backup still
// runs is skipped.
import { nextRun, type Schedule } from "../jobs/schedule";
import type { Logger } from "../log";
import { pruneBackups, type BackupResult } from "./backups";

/** setTimeout's longest wait; a later time is reached in several waits. */
const MAX_WAIT_MS = 2 ** 31 - 1;

export class BackupScheduler {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly opts: {
      schedule: Schedule;
      keep: number;
      dataDir: string;
      log: Logger;
      /** Writes one backup into the data directory (the checkpoint worker's connection). */
      backup: (now: number) => Promise<BackupResult>;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Waits for the first time of the schedule after `after`. */
  start(after = this.now()): void {
    if (this.stopped) return;
    // @every runs fall on multiples of the period since the epoch: the same times after a restart.
    const at = nextRun(this.opts.schedule, "UTC", after, 0);
    const arm = () => {
      const wait = at - this.now();
      this.timer = setTimeout(wait > MAX_WAIT_MS ? arm : () => this.fire(at), Math.min(Math.max(wait, 0), MAX_WAIT_MS));
      this.timer.unref?.();
    };
    arm();
  }

  private fire(at: number): void {
    this.timer = null;
    if (!this.running) this.running = this.runOnce().finally(() => (this.running = null));
    // From the time just served: a timer a millisecond early must not serve it twice.
    this.start(Math.max(at, this.now()));
  }

  /** One backup and the pruning after it; failures are logged, never thrown. */
  async runOnce(): Promise<void> {
    const { log, keep, dataDir } = this.opts;
    try {
      const r = await this.opts.backup(this.now());
      log.info("backup written", { file: r.file, bytes: r.bytes, ms: r.ms, checkins: r.checkins });
      const deleted = pruneBackups(dataDir, keep);
      if (deleted.length) log.info("old backups deleted", { deleted, keep });
    } catch (e) {
      log.error("backup failed", { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Stops scheduling and waits for a backup in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
