// health: asks the server on this machine for GET /health and exits 0 only when it answers ok.
// The Docker image's HEALTHCHECK runs it (the image has no curl): it finds the port as serve
// does, so a changed CRONTOPUS_PORT is followed.
import { command } from "./args";
import { configFrom, envFileArg } from "./common";
import { fail } from "./run";

/** Where a server bound to `host` is reached from the same machine. */
function localAddress(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export default command({
  meta: { name: "health", description: "Check the server on this machine (GET /health at CRONTOPUS_PORT): exit 0 when it is ok" },
  args: {
    ...envFileArg,
    port: { type: "string", description: "Port the server listens on (CRONTOPUS_PORT, default 8080)" },
    json: { type: "boolean", description: "Print the server's answer as JSON" },
  },
  async run({ args }) {
    const config = configFrom(args, { port: args.port });
    const url = `http://${localAddress(config.host)}:${config.port}/health`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    } catch (e) {
      const err = e as Error & { code?: string };
      fail(`cannot reach the Crontopus server at ${url} (${err.name === "TimeoutError" ? "no answer within 5 s" : (err.code ?? err.message)})`);
    }
    const body = (await res.json().catch(() => null)) as { status?: string; reason?: string; version?: string } | null;
    if (args.json && body) console.log(JSON.stringify(body));
    if (res.status !== 200 || body?.status !== "ok") {
      fail(`${url} answered ${res.status}${body?.status ? `: ${body.status}` : ""}${body?.reason ? ` (${body.reason})` : ""}`);
    }
    if (!args.json) console.log(`ok: ${url} (crontopus ${body.version})`);
  },
});
