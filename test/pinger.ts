// Ping load from a process of its own: `bun test/pinger.ts URL CONCURRENCY TOKEN…`. Each sender
// posts `<prefix>-<n>` bodies to the tokens in turn and prints one line per answer on stdout:
// `<status> <sent at> <answered at> <body>` (times in ms since the epoch), status 0 for a
// network error.
// It stops when its stdin closes (or on SIGTERM), after the requests in flight.
export {};

const [url, concurrency, ...tokens] = process.argv.slice(2);
if (!url || !concurrency || tokens.length === 0) throw new Error("usage: pinger.ts URL CONCURRENCY TOKEN…");

let stopping = false;
process.on("SIGTERM", () => (stopping = true));
// Nothing is ever sent on stdin: only its end matters.
void Bun.stdin.text().then(() => (stopping = true));

let seq = 0;
const out: string[] = [];
const flush = setInterval(() => {
  if (out.length) process.stdout.write(out.splice(0).join(""));
}, 20);

await Promise.all(
  Array.from({ length: Number(concurrency) }, async (_, w) => {
    while (!stopping) {
      const n = seq++;
      const body = `p${process.pid}-${n}`;
      const token = tokens[(w + n) % tokens.length];
      let status = 0;
      const sent = Date.now();
      try {
        const r = await fetch(`${url}/ping/${token}`, { method: "POST", body });
        await r.text();
        status = r.status;
      } catch {
        // The server is gone (or going): a 0 line, then a short pause.
        await Bun.sleep(20);
      }
      out.push(`${status} ${sent} ${Date.now()} ${body}\n`);
    }
  }),
);
clearInterval(flush);
if (out.length) process.stdout.write(out.join(""));
