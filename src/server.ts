import type { Config } from "./config";
import { migrate, openDb, type Db } from "./db";
import type { Logger } from "./log";
import { createApp, createContext, type AppOptions } from "./app";
import type { AppContext } from "./context";
import type { Engine } from "./monitor/engine";
import { Dispatcher } from "./alerts/outbox";
import { Pruner } from "./runs/runs";
import { WAL_KEEP_BYTES, WalGuard } from "./wal";
import { statSync } from "node:fs";
import { sealChannelSecrets } from "./alerts/channels";

/** Checkpoints in a worker thread; falls back to SQLite's automatic checkpoints if it cannot start. */
function startCheckpointer(db: Db, path: string, log: Logger): { stop(): Promise<void> } | null {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./checkpointer.ts", import.meta.url).href);
  } catch (e) {
    log.warn("checkpoint worker unavailable; using automatic checkpoints", { error: String(e) });
    return null;
  }
  db.exec("PRAGMA wal_autocheckpoint = 0");
  worker.onmessage = (m) => {
    if (typeof m.data === "object" && m.data?.error) log.warn("checkpoint failed", { error: m.data.error });
  };
  worker.postMessage({ path });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          worker.terminate();
          resolve();
        };
        const timer = setTimeout(done, 2000);
        worker.addEventListener("message", (m) => {
          if (m.data === "stopped") {
            clearTimeout(timer);
            done();
          }
        });
        worker.postMessage("stop");
      }),
  };
}

export interface RunningServer {
  url: string;
  port: number;
  ctx: AppContext;
  engine: Engine;
  dispatcher: Dispatcher;
  stop(): Promise<void>;
}

/** Opens the data directory, applies pending migrations and starts listening. */
export async function startServer(config: Config, opts: AppOptions = {}): Promise<RunningServer> {
  const db = openDb(config.dbPath, { sync: config.syncMode });
  const applied = migrate(db);
  const ctx = createContext(db, config, opts);
  if (applied.length) ctx.log.info("migrations applied", { applied });
  const sealed = sealChannelSecrets(db, ctx.secrets);
  if (sealed) ctx.log.info("channel secrets encrypted", { channels: sealed, key_file: config.secretKeyPath });
  const checkpointer = startCheckpointer(db, config.dbPath, ctx.log);
  const wal = checkpointer ? new WalGuard(db, `${config.dbPath}-wal`) : null;
  if (wal) ctx.checkins.afterCommit = () => wal.afterCommit();
  const engine = ctx.engine;
  // Check-ins committed before a restart and not applied yet: applied before the first request.
  while (engine.tick().behind);
  const app = createApp(ctx, { engine });
  const dispatcher = new Dispatcher({ db, config, secrets: ctx.secrets, log: ctx.log, now: ctx.now });
  engine.onNotify = () => dispatcher.kick();
  ctx.kick = () => dispatcher.kick();
  engine.start(config.tickMs);
  dispatcher.start();
  // Retention in short slices between requests, however much is due (see Pruner).
  const walPath = `${config.dbPath}-wal`;
  const pruner = new Pruner(db, ctx.now, { busy: () => (wal ? fileBytes(walPath) > WAL_KEEP_BYTES : false) });
  if (wal) pruner.afterSlice = () => wal.afterCommit();
  ctx.pruneSoon = () => pruner.soon();
  pruner.onPass = (pruned, ms) => {
    const deleted = pruned.checkins + pruned.flips + pruned.notifications;
    ctx.log[deleted ? "info" : "debug"]("history pruned", { ...pruned, ms: Math.round(ms) });
  };
  pruner.onError = (e) => ctx.log.error("pruning failed", { error: String(e) });
  app.listen({ port: config.port, hostname: config.host, reusePort: false, maxRequestBodySize: 256 * 1024 * 1024 });
  const server = app.server!;
  const port = server.port!;
  ctx.log.info("listening", { url: `http://${config.host}:${port}`, base_url: config.baseUrl, data_dir: config.dataDir });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    ctx,
    engine,
    dispatcher,
    async stop() {
      // Let requests in flight (pings waiting for their commit) finish; then close the rest.
      await Promise.race([server.stop(false), Bun.sleep(2000)]);
      await server.stop(true);
      pruner.stop();
      ctx.checkins.flush();
      engine.stop();
      await dispatcher.stop();
      wal?.stop();
      await checkpointer?.stop();
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
