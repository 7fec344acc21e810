// Ping load from a process of its own: `bun test/pinger.ts URL CONCURRENCY TOKEN…`. Each sender
// posts `<prefix>-<n>` bodies to the tokens in turn and prints one line per answer on stdout:
// `<status> <ms since the epoch when the answer arrived> <body>`, status 0 for a network error.
// It stops when its stdin closes (or on SIGTERM), after the requests in flight.
const [url, concurrency, ...tokens] = process.argv.slice(2);
if (!url || !concurrency || tokens.length === 0) throw new Error("usage: pinger.ts URL CONCURRENCY TOKEN…");

let stop = false;
process.on("SIGTERM", () => (stop = true));
(async () => {
  for await (const _ of Bun.stdin.stream()) {
    // Nothing is ever sent: only the end of stdin matters.
  }
  stop = true;
})();

let seq = 0;
const out: string[] = [];
const flush = setInterval(() => {
  if (out.length) process.stdout.write(out.splice(0).join(""));
}, 20);

await Promise.all(
  Array.from({ length: Number(concurrency) }, async (_, w) => {
    while (!stop) {
      const n = seq++;
      const body = `p${process.pid}-${n}`;
      const token = tokens[(w + n) % tokens.length];
      let status = 0;
      try {
        const r = await fetch(`${url}/ping/${token}`, { method: "POST", body });
        await r.text();
        status = r.status;
      } catch {
        // The server is gone (or going): a 0 line, then a short pause.
        await Bun.sleep(20);
      }
      out.push(`${status} ${Date.now()} ${body}\n`);
    }
  }),
);
clearInterval(flush);
if (out.length) process.stdout.write(out.join(""));
