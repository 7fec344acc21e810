// A real HTTP receiver for alert webhooks: records every request it gets.

/** A receiver listens on loopback: a server sending to it must allow internal targets. */
export const RECEIVER_ENV = { CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" } as const;
export interface Received {
  path: string;
  headers: Headers;
  body: string;
  json: any;
}

export function startReceiver(status = 200) {
  const received: Received[] = [];
  const state = { status };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {}
      received.push({ path: new URL(req.url).pathname, headers: req.headers, body, json });
      return new Response("ok", { status: state.status });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    state,
    stop: () => server.stop(true),
  };
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function until<T>(check: () => T | Promise<T>, ms = 5000, step = 25): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await Bun.sleep(step);
  }
}
