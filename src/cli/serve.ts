import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { startServer } from "../server";

/** The longest SIGTERM or SIGINT may take to end the process. */
const STOP_DEADLINE_MS = 8000;

export default command({
  meta: { name: "serve", description: "Run the server: REST API, console, pings (applies pending migrations first)" },
  args: {
    ...serverArgs,
    port: { type: "string", description: "Port to listen on (CRONTOPUS_PORT, default 8080)" },
    host: { type: "string", description: "Address to bind (CRONTOPUS_HOST, default 0.0.0.0)", valueHint: "ADDRESS" },
    "base-url": { type: "string", description: "Public URL used in ping URLs, alert links and the setup link (CRONTOPUS_BASE_URL)", valueHint: "URL" },
  },
  async run({ args }) {
    const config = configFrom(args, { port: args.port, host: args.host, baseUrl: args["base-url"] });
    const server = await startServer(config);
    // On stdout, not in the log: a person starting the server for the first time reads it there.
    if (server.setupUrl) console.log(`No user yet. Open this link to create the first owner (it works once):\n  ${server.setupUrl}`);
    let stopping = false;
    const stop = async (signal: string) => {
      // A second signal changes nothing (a supervisor that signals the whole process group and
      // the npm launcher passing its own on both deliver one): the deadline below bounds the stop.
      if (stopping) return;
      stopping = true;
      // Whatever the storage does, the process ends in time (Docker kills after 10 s): stop()
      // bounds each step, and this is the backstop.
      setTimeout(() => {
        server.ctx.log.error("stop did not finish in time; exiting", { signal, after_ms: STOP_DEADLINE_MS });
        process.exit(1);
      }, STOP_DEADLINE_MS);
      const started = performance.now();
      server.ctx.log.info("stopping", { signal });
      await server.stop();
      server.ctx.log.info("stopped", { signal, ms: Math.round(performance.now() - started) });
      process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // Keep running until a signal arrives.
    await new Promise(() => {});
  },
});
