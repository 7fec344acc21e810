// Runs in a Worker with its own connection: copies the WAL back into the database file every
// 100 ms, so commits on the request path rarely pay for a checkpoint (the server turns SQLite's
// automatic checkpoints off while this runs). These passive checkpoints never wait for the
// writer, so under a steady stream they never copy the last frames and the WAL never starts
// over: the writer finishes the job itself between two group commits once the WAL is past its
// limit (this worker pausing meanwhile, so the two never collide), and cuts the file back once
// the load stops (src/wal.ts). This connection only ever
// checkpoints passively: it never takes the write lock, so it never blocks the writer.
// Scheduled backups run here too, on this connection, so that the seconds a large database
// takes to copy never hold the server's event loop (and its pings) up.
import { Database } from "bun:sqlite";
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { backupIntoDataDir } from "./backups/backups";

/**
 * This thread's nice value: below the event loop's. On a machine with one core to spare (or
 * none), a round of copying that took the core for a few milliseconds held every ping up for as
 * long (the log benchmark's retention phase: unexplained 10 ms stalls of the event loop, once a
 * round). At nice 10 the kernel lets the event loop in first and still gives this thread about a
 * tenth of a busy core: at the peak check-in rate it needs a fiftieth.
 */
const NICE = 10;

/** Lowers this thread's priority alone (Linux: a thread's id names it to setpriority). */
function lowerOwnPriority(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, NICE);
  } catch {
    // No /proc (macOS) or not allowed: the worker runs at the server's priority.
  }
}

declare const self: Worker;

let db: Database | null = null;
let path = "";
let timer: ReturnType<typeof setInterval> | null = null;

type Message = { path: string; intervalMs?: number; shared?: Int32Array } | { backup: { id: number; dataDir: string; now: number } } | "stop";

self.onmessage = (e: MessageEvent<Message>) => {
  if (typeof e.data === "object" && "backup" in e.data) {
    const { id, dataDir, now } = e.data.backup;
    try {
      postMessage({ backupId: id, result: backupIntoDataDir(db!, path, dataDir, now) });
    } catch (err) {
      postMessage({ backupId: id, backupError: (err as Error).message });
    }
    return;
  }
  if (e.data === "stop") {
    if (timer) clearInterval(timer);
    db?.close();
    db = null;
    postMessage("stopped");
    return;
  }
  path = e.data.path;
  lowerOwnPriority();
  db = new Database(path);
  db.exec("PRAGMA busy_timeout = 1000");
  const passive = db.query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)");
  const shared = e.data.shared;
  timer = setInterval(() => {
    // The writer is about to finish the job and restart the log: keep out of its way.
    if (shared && Atomics.load(shared, 0) === 1) return;
    try {
      const r = passive.get()!;
      // What the writer decides by: how much of the log is in use, and how much is left to copy.
      if (shared && r.busy === 0) {
        Atomics.store(shared, 1, r.log);
        Atomics.store(shared, 2, r.checkpointed);
      }
    } catch (err) {
      postMessage({ error: String(err) });
    }
  }, e.data.intervalMs ?? 100);
  postMessage("started");
};
