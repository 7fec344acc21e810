import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config";
import { DbError, openDb, storageFault, type Db } from "./db";
import { backupIntoDataDir, migrateWithBackup, type BackupResult } from "./backups/backups";
import { BackupScheduler } from "./backups/scheduler";
import { lockDataDir, type DataDirLock } from "./lock";
import { probeWrite } from "./storage";
import type { Logger } from "./log";
import { createApp, createContext, type AppOptions } from "./app";
import type { AppContext } from "./context";
import type { Engine } from "./monitor/engine";
import { Dispatcher } from "./alerts/outbox";
import { Pruner } from "./runs/retention";
import { GitopsScheduler } from "./gitops/scheduler";
import { recoverInterruptedSyncs } from "./gitops/sync";
import { startPurger } from "./runs/purge";
import { sharedWalState, WAL_KEEP_BYTES, WalGuard } from "./wal";
import { sealChannelSecrets } from "./alerts/channels";
import { setupPath } from "./auth/setup";

/** Checkpoints in a worker thread; falls back to SQLite's automatic checkpoints if it cannot start. */
function startCheckpointer(db: Db, path: string, log: Logger): { stop(): Promise<void>; shared: Int32Array; backup(dataDir: string, now: number): Promise<BackupResult> } | null {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./checkpointer.ts", import.meta.url).href);
  } catch (e) {
    log.warn("checkpoint worker unavailable; using automatic checkpoints", { error: String(e) });
    return null;
  }
  db.exec("PRAGMA wal_autocheckpoint = 0");
  // A worker whose module cannot be loaded (a binary built without src/checkpointer.ts as an
  // entry point) fails after the constructor returned: give the checkpoints back to SQLite.
  let failed = false;
  worker.onerror = (e) => {
    failed = true;
    db.exec("PRAGMA wal_autocheckpoint = 1000");
    log.warn("checkpoint worker unavailable; using automatic checkpoints", { error: e.message });
  };
  // On a full disk every checkpoint fails, once a second: say so once a minute.
  let warnedAt = 0;
  worker.onmessage = (m) => {
    if (typeof m.data !== "object" || !m.data?.error || Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    log.warn("checkpoint failed", { error: m.data.error });
  };
  // The WAL guard's view of the worker's progress, and its pause while it restarts the log.
  const shared = sharedWalState();
  worker.postMessage({ path, shared });
  let backups = 0;
  return {
    shared,
    backup: (dataDir, now) =>
      new Promise<BackupResult>((resolve, reject) => {
        const id = ++backups;
        const done = () => {
          worker.removeEventListener("message", answer);
          worker.removeEventListener("error", died);
        };
        const answer = (m: MessageEvent) => {
          if (m.data?.backupId !== id) return;
          done();
          if (m.data.backupError) reject(new Error(m.data.backupError));
          else resolve(m.data.result);
        };
        // A worker that died (or never loaded) answers nothing: the backup fails rather than waits for ever.
        const died = (e: ErrorEvent) => {
          done();
          reject(new Error(`the checkpoint worker failed: ${e.message}`));
        };
        if (failed) return reject(new Error("the checkpoint worker is not running"));
        worker.addEventListener("message", answer);
        worker.addEventListener("error", died);
        worker.postMessage({ backup: { id, dataDir, now } });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (failed) return resolve();
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
  /** On a server with no user: the one-time link that creates the first owner (`serve` prints it); otherwise null. */
  setupUrl: string | null;
  stop(): Promise<void>;
}

const FS_REASONS: Record<string, string> = {
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOSPC: "the disk is full",
  ENOTDIR: "a part of the path is not a directory",
};

/** The data directory exists and this process may write in it; otherwise one clear line. */
function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Creating a file says more than access(2), which a file system gone read-only after an
    // error still passes.
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    throw new DbError(`cannot write to the data directory ${dir}: ${FS_REASONS[code] ?? (e as Error).message}`);
  }
}

/**
 * Opens the database, applies pending migrations (after a backup of it, when there are any) and
 * proves that it takes writes.
 */
function openWritable(config: Config): { db: Db; applied: string[]; backup: BackupResult | null } {
  let db: Db | null = null;
  try {
    db = openDb(config.dbPath, { sync: config.syncMode });
    const { applied, backup } = migrateWithBackup(db, config.dbPath, config.dataDir);
    probeWrite(db, Date.now());
    return { db, applied, backup };
  } catch (e) {
    db?.close();
    if (e instanceof DbError) throw e;
    const reason = storageFault(e)?.reason ?? (e as Error).message;
    throw new DbError(`cannot write the database ${config.dbPath}: ${reason}`);
  }
}

/** Time a step of stop() may wait for another connection's lock, so that stop stays bounded. */
const STOP_BUSY_TIMEOUT_MS = 1000;

/**
 * Takes the data directory (one server each), opens the database, applies pending migrations
 * and starts listening. Throws with one clear line when the database cannot be written.
 */
export async function startServer(config: Config, opts: AppOptions = {}): Promise<RunningServer> {
  prepareDataDir(config.dataDir);
  const lock: DataDirLock = lockDataDir(config.dataDir);
  let opened: ReturnType<typeof openWritable>;
  try {
    opened = openWritable(config);
  } catch (e) {
    lock.release();
    throw e;
  }
  const { db, applied, backup } = opened;
  const ctx = createContext(db, config, opts);
  if (backup) ctx.log.info("backup written before migrating", { file: backup.file, bytes: backup.bytes, ms: backup.ms, schema_version: backup.schema_version });
  if (applied.length) ctx.log.info("migrations applied", { applied });
  const sealed = sealChannelSecrets(db, ctx.secrets);
  if (sealed) ctx.log.info("channel secrets encrypted", { channels: sealed, key_file: config.secretKeyPath });
  const checkpointer = startCheckpointer(db, config.dbPath, ctx.log);
  const wal = checkpointer ? new WalGuard(db, `${config.dbPath}-wal`, { shared: checkpointer.shared }) : null;
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
  const pruner = new Pruner(db, ctx.now, { busy: () => (wal ? wal.usedBytes > WAL_KEEP_BYTES : false) });
  if (wal) pruner.afterSlice = () => wal.afterCommit();
  ctx.pruneSoon = () => pruner.soon();
  pruner.onPass = (pruned, ms) => {
    const deleted = pruned.checkins + pruned.flips + pruned.notifications;
    ctx.log[deleted ? "info" : "debug"]("history pruned", { ...pruned, ms: Math.round(ms) });
  };
  pruner.onError = (e) => ctx.log.error("pruning failed", { error: String(e) });
  // Deleted jobs' check-ins, a slice at a time.
  const purger = startPurger(db, (e) => ctx.log.error("purging deleted jobs failed", { error: String(e) }));
  // Without the worker a backup holds the event loop for as long as it takes: said once.
  if (config.backupSchedule && !checkpointer) ctx.log.warn("scheduled backups run on the main thread: requests wait while one is written");
  const backups = config.backupSchedule
    ? new BackupScheduler({
        schedule: config.backupSchedule,
        keep: config.backupKeep,
        dataDir: config.dataDir,
        log: ctx.log,
        backup: (now) => (checkpointer ? checkpointer.backup(config.dataDir, now) : Promise.resolve().then(() => backupIntoDataDir(db, config.dbPath, config.dataDir, now))),
      })
    : null;
  backups?.start();
  // No sync runs yet: a `syncing` state is one this server's last run was stopped during.
  const interrupted = recoverInterruptedSyncs(db, ctx.now());
  if (interrupted) ctx.log.warn("gitops syncs interrupted by the last stop: reported, and due again now", { tenants: interrupted });
  const gitops = new GitopsScheduler(db, ctx.gitops, ctx.now, ctx.log);
  gitops.start();
  let server: NonNullable<typeof app.server> | null = null;
  const stop = async () => {
    // Every step runs whatever the one before did: on a full disk or a read-only file the
    // engine's last write-back and the final checkpoint fail, and the process must still end.
    // Nothing committed is lost by that: it is in the WAL, checkpointed at the next start.
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        ctx.log.warn(`stop: ${what} failed`, { error: e instanceof Error ? e.message : String(e) });
      }
    };
    // Event streams never finish by themselves: end them cleanly first, so that they do not hold
    // the wait below up and clients reconnect (to the next server) with their Last-Event-ID.
    await step("ending event streams", () => ctx.events.close());
    // Let requests in flight (pings waiting for their commit) finish; then close the rest.
    await step("closing connections", async () => {
      if (!server) return;
      await Promise.race([server.stop(false), Bun.sleep(2000)]);
      await server.stop(true);
    });
    await step("summing up the request log", () => ctx.requests.stop());
    // Periodic syncs, and those a webhook or a request started; one stuck in a fetch is left (the next start reports it).
    await step("stopping gitops syncs", () => Promise.race([Promise.all([gitops.stop(), ctx.gitops.idle()]), Bun.sleep(2000)]));
    await step("stopping retention", () => pruner.stop());
    await step("stopping the purger", () => purger.stop());
    await step("bounding lock waits", () => db.exec(`PRAGMA busy_timeout = ${STOP_BUSY_TIMEOUT_MS}`));
    await step("committing the last check-ins", () => ctx.checkins.flush());
    await step("stopping the engine", () => engine.stop());
    await step("stopping the WAL guard", () => wal?.stop());
    await Promise.all([
      step("stopping the dispatcher", () => Promise.race([dispatcher.stop(), Bun.sleep(2000)])),
      // A backup in progress is given up (its partial file is removed by the next one).
      step("stopping scheduled backups", () => Promise.race([backups?.stop(), Bun.sleep(2000)])),
      step("stopping the checkpointer", () => checkpointer?.stop()),
    ]);
    await step("final checkpoint", () => db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    await step("closing the database", () => db.close());
    lock.release();
  };
  try {
    app.listen({ port: config.port, hostname: config.host, reusePort: false, maxRequestBodySize: 256 * 1024 * 1024 });
    server = app.server!;
  } catch (e) {
    // The port is taken (or similar): give back what was started, the lock included, so an
    // embedding process can try again.
    await stop();
    throw e;
  }
  const port = server.port!;
  ctx.log.info("listening", { url: `http://${config.host}:${port}`, base_url: config.baseUrl, data_dir: config.dataDir });
  const setupToken = ctx.firstRun.open(db);
  const setupUrl = setupToken ? config.baseUrl + setupPath(setupToken) : null;
  return { url: `http://127.0.0.1:${port}`, port, ctx, engine, dispatcher, setupUrl, stop };
}

