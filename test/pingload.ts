// Ping load from another process (test/pinger.ts), with every answer it got: status, when the
// ping was sent and when its answer came, and its body (unique per ping).
import { join } from "node:path";
import { BUN } from "./helpers";

export interface Answer {
  status: number;
  sent: number;
  at: number;
  body: string;
}

export function spawnPinger(url: string, concurrency: number, tokens: string[]) {
  const proc = Bun.spawn([BUN, join(import.meta.dir, "pinger.ts"), url, String(concurrency), ...tokens], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const answers: Answer[] = [];
  const reading = (async () => {
    const reader = proc.stdout.getReader();
    const decoder = new TextDecoder();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += decoder.decode(value, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const l of lines) {
        const [status, sent, at, body] = l.split(" ");
        answers.push({ status: Number(status), sent: Number(sent), at: Number(at), body: body! });
      }
    }
  })();
  return {
    proc,
    answers,
    acked: () => answers.filter((a) => a.status === 200),
    /** Ends the load after the requests in flight, and waits for the last answers. */
    async stop(): Promise<void> {
      proc.stdin.end();
      await proc.exited;
      await reading;
    },
  };
}
