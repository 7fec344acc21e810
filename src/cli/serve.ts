import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { startServer } from "../server";

export default command({
  meta: { name: "serve", description: "Run the server: REST API, console, pings (applies pending migrations first)" },
  args: {
    ...serverArgs,
    port: { type: "string", description: "Port to listen on (CRONTOPUS_PORT, default 8080)" },
    host: { type: "string", description: "Address to bind (CRONTOPUS_HOST, default 0.0.0.0)" },
    "base-url": { type: "string", description: "Public URL used in ping links (CRONTOPUS_BASE_URL)" },
  },
  async run({ args }) {
    const config = configFrom(args, { port: args.port, host: args.host, baseUrl: args["base-url"] });
    const server = await startServer(config);
    const stop = async () => {
      await server.stop();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // Keep running until a signal arrives.
    await new Promise(() => {});
  },
});
