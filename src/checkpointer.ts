// Runs in a Worker with its own connection: copies the WAL back into the database file every
// 100 ms, so commits on the request path rarely pay for a checkpoint (the server turns SQLite's
// automatic checkpoints off while this runs). These passive checkpoints never wait for the
// writer, so under a steady stream they never copy the last frames and the WAL never starts
// over: the writer finishes the job itself between two group commits once the WAL is past its
// limit, and cuts the file back once the load stops (src/wal.ts). This connection only ever
// checkpoints passively: it never takes the write lock, so it never blocks the writer.
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

self.onmessage = (e: MessageEvent<{ path: string; intervalMs?: number } | "stop">) => {
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
  timer = setInterval(() => {
    try {
      passive.get();
    } catch (err) {
      postMessage({ error: String(err) });
    }
  }, e.data.intervalMs ?? 100);
  postMessage("started");
};
