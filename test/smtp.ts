// A real SMTP server for tests: aiosmtpd (python3-aiosmtpd, installed by scripts/system-deps.sh),
// printing each message it receives as one JSON line.
import { existsSync } from "node:fs";

const SMTP_SERVER = `
import asyncio, email, json, sys
from email import policy
from aiosmtpd.controller import Controller
class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": str(msg["subject"]),
                          "event": msg["x-crontopus-event"], "body": msg.get_content()}), flush=True)
        return "250 Message accepted"
c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
asyncio.new_event_loop().run_forever()
`;
// Debian's python3 has python3-aiosmtpd; a python3 earlier on PATH (pyenv) may not.
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export interface ReceivedMail {
  /** The envelope's sender and recipients. */
  from: string;
  to: string[];
  subject: string;
  /** The X-Crontopus-Event header. */
  event: string | null;
  /** The text, with CRLF line ends as sent. */
  body: string;
}

export interface SmtpServer {
  /** smtp://127.0.0.1:<port> */
  url: string;
  /** The next message the server receives, in arrival order. */
  next(): Promise<ReceivedMail>;
  stop(): void;
}

export async function startSmtpServer(): Promise<SmtpServer> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = probe.port!;
  probe.stop(true);
  const proc = Bun.spawn([PYTHON, "-u", "-c", SMTP_SERVER, String(port)], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const lines = readLines(proc.stdout);
  const first = await lines.next();
  if (first.value !== "ready") throw new Error(`the SMTP server did not start (${first.value ?? "no output"})`);
  return {
    url: `smtp://127.0.0.1:${port}`,
    async next() {
      const { value, done } = await lines.next();
      if (done) throw new Error("the SMTP server stopped");
      return JSON.parse(value) as ReceivedMail;
    },
    stop: () => proc.kill(),
  };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}
