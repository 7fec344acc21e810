import type { Config } from "./config";
import { migrate, openDb } from "./db";
import { createApp, createContext, type AppOptions } from "./app";
import type { AppContext } from "./context";

export interface RunningServer {
  url: string;
  port: number;
  ctx: AppContext;
  stop(): Promise<void>;
}

/** Opens the data directory, applies pending migrations and starts listening. */
export async function startServer(config: Config, opts: AppOptions = {}): Promise<RunningServer> {
  const db = openDb(config.dbPath, { sync: config.syncMode });
  const applied = migrate(db);
  const ctx = createContext(db, config, opts);
  if (applied.length) ctx.log.info("migrations applied", { applied });
  const app = createApp(ctx);
  app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: 16 * 1024 * 1024 });
  const server = app.server!;
  const port = server.port!;
  ctx.log.info("listening", { url: `http://${config.host}:${port}`, base_url: config.baseUrl, data_dir: config.dataDir });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    ctx,
    async stop() {
      await server.stop(true);
      db.close();
    },
  };
}
