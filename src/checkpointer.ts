// Runs in a Worker with its own connection: copies the WAL back into the database file every
// 100 ms, so commits on the request path rarely pay for a checkpoint (the server turns SQLite's
// automatic checkpoints off while this runs). These passive checkpoints never wait for the
// writer, so under a steady stream they never copy the last frames and the WAL never starts
// over: the writer finishes the job itself between two group commits once the WAL is past its
// limit (this worker pausing meanwhile, so the two never collide), and cuts the file back once
// the load stops (src/wal.ts). This connection only ever
// checkpoints passively: it never takes the write lock, so it never blocks the writer.
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

self.onmessage = (e: MessageEvent<{ path: string; intervalMs?: number; paused?: Int32Array } | "stop">) => {
  if (e.data === "stop") {
    if (timer) clearInterval(timer);
    db?.close();
    db = null;
    postMessage("stopped");
    return;
  }
  db = new Database(e.data.path);
  db.exec("PRAGMA busy_timeout = 1000");
  const passive = db.query("PRAGMA wal_checkpoint(PASSIVE)");
  const paused = e.data.paused;
  timer = setInterval(() => {
    // The writer is about to finish the job and restart the log: keep out of its way.
    if (paused && Atomics.load(paused, 0) === 1) return;
    try {
      passive.get();
    } catch (err) {
      postMessage({ error: String(err) });
    }
  }, e.data.intervalMs ?? 100);
  postMessage("started");
};
