// Runs in a Worker with its own connection: copies the WAL back into the database file every
// second, so no commit on the request path ever pays for a checkpoint (the server turns
// SQLite's automatic checkpoints off while this runs).
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
  db.exec("PRAGMA busy_timeout = 5000");
  timer = setInterval(() => {
    try {
      db!.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (err) {
      postMessage({ error: String(err) });
    }
  }, e.data.intervalMs ?? 1000);
  postMessage("started");
};
