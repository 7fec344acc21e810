// Every channel type against a real local receiver: an HTTP server that records what arrives,
// and a real SMTP server (aiosmtpd) for email.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { AppError } from "../errors";
import { summary, tailOutput, testMessage, text, type AlertMessage } from "./message";
import { maskConfig, send, signBody, unmaskConfig, validateChannel, type SendOptions } from "./senders";
import { startSmtpServer, type SmtpServer } from "../../test/smtp";

interface Received {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

let receiver: ReturnType<typeof Bun.serve>;
let received: Received[] = [];
let base = "";
// The receivers here are on loopback: these sends are those of an installation that allows internal targets.
const noSmtp: SendOptions = { smtpUrl: null, smtpFrom: "crontopus@localhost", allowPrivateTargets: true };

beforeAll(() => {
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      received.push({ method: req.method, path: url.pathname, headers: req.headers, body: await req.text() });
      if (url.pathname === "/fail") return new Response("boom: receiver exploded", { status: 500 });
      if (url.pathname === "/hang") return new Promise<Response>(() => {});
      if (url.pathname === "/moved") return new Response(null, { status: 302, headers: { location: "/ok" } });
      if (url.pathname === "/accepted") return Response.json({ status: "success", message: "Event processed" }, { status: 202 });
      return new Response("ok");
    },
  });
  base = `http://127.0.0.1:${receiver.port}`;
});
afterAll(() => receiver.stop(true));

/** Sends and returns the one request the receiver got. */
async function deliver(type: string, config: Record<string, unknown>, m: AlertMessage = down) {
  received = [];
  const result = await send({ type, config }, m, noSmtp);
  expect(received).toHaveLength(1);
  return { result, req: received[0]! };
}

const down: AlertMessage = {
  event: "trigger",
  tenant: { slug: "acme", name: "Acme Inc" },
  job: { id: "0193a1b2-job", namespace: "ops", name: "db-backup", url: "http://crontopus.test/jobs/ops/db-backup" },
  status: "down",
  previous_status: "up",
  reason: "no check-in since 02:10 UTC (grace 10m)",
  since: "2026-11-03T02:20:00.000Z",
  last_output: "dumping acme_prod\npg_dump: error: could not write: No space left on device",
  dedup_key: "crontopus-0193a1b2-job",
};
const recovered: AlertMessage = { ...down, event: "resolve", status: "up", previous_status: "down", reason: "success check-in received", last_output: null };

describe("the message", () => {
  test("summary says which job, what state and why, in one line", () => {
    expect(summary(down)).toBe("ops/db-backup is DOWN: no check-in since 02:10 UTC (grace 10m)");
    expect(summary(recovered)).toBe("ops/db-backup is UP again: success check-in received");
    expect(summary({ ...down, event: "renotify" })).toBe("ops/db-backup is still DOWN (since Nov 3 02:20 UTC): no check-in since 02:10 UTC (grace 10m)");
    expect(summary(testMessage({ slug: "acme", name: "Acme Inc" }))).toBe("Test notification from Crontopus (Acme Inc)");
  });

  test("text has the job, the state change, since when, the last output and the console link", () => {
    const body = text(down);
    expect(body).toContain("Job:      ops/db-backup");
    expect(body).toContain("Status:   down (was up)");
    expect(body).toContain("Since:    2026-11-03 02:20:00 UTC");
    expect(body).toContain("  pg_dump: error: could not write: No space left on device");
    expect(body).toContain("Open in Crontopus: http://crontopus.test/jobs/ops/db-backup");
  });

  test("tailOutput keeps the last 20 lines and at most 2 KB", () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n");
    expect(tailOutput(lines)!.split("\n")).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 31}`));
    const wide = Array.from({ length: 10 }, (_, i) => `${i}:` + "é".repeat(400)).join("\n");
    const tail = tailOutput(wide)!;
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(2048);
    expect(tail.endsWith("é")).toBe(true);
    expect(tail).not.toContain("\uFFFD");
    expect(tailOutput("")).toBeNull();
  });
});

describe("webhook", () => {
  test("posts the message as JSON, signed with HMAC-SHA256 over the exact body", async () => {
    const { result, req } = await deliver("webhook", { url: `${base}/hook`, secret: "s3cret", headers: { "X-Team": "ops" } });
    expect(result).toMatchObject({ ok: true, code: 200, body: "ok" });
    const expected = "sha256=" + createHmac("sha256", "s3cret").update(req.body).digest("hex");
    expect(req.headers.get("x-crontopus-signature")).toBe(expected);
    expect(req.headers.get("x-crontopus-event")).toBe("trigger");
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(req.headers.get("x-team")).toBe("ops");
    expect(JSON.parse(req.body)).toEqual({ ...down, summary: summary(down) });
  });

  test("a signature made with another secret does not match", async () => {
    const { req } = await deliver("webhook", { url: `${base}/hook`, secret: "s3cret" });
    expect(req.headers.get("x-crontopus-signature")).not.toBe(signBody("guess", req.body));
  });

  test("without a secret there is no signature, and channel headers cannot replace the body type", async () => {
    const { req } = await deliver("webhook", { url: `${base}/hook`, headers: { "Content-Type": "text/plain" } });
    expect(req.headers.get("x-crontopus-signature")).toBeNull();
    expect(req.headers.get("content-type")).toBe("application/json");
  });

  test("credentials in the URL are sent as Basic auth", async () => {
    const { req } = await deliver("webhook", { url: `http://bot:p%40ss@127.0.0.1:${receiver.port}/hook` });
    expect(req.headers.get("authorization")).toBe(`Basic ${btoa("bot:p@ss")}`);
  });
});

describe("chat services", () => {
  test("slack gets text plus blocks, with mrkdwn escaped", async () => {
    const { result, req } = await deliver("slack", { url: `${base}/services/T1/B2/xyz` }, { ...down, reason: "exit code 1 <stderr> & more" });
    expect(result.ok).toBe(true);
    const p = JSON.parse(req.body);
    expect(p.text).toBe("ops/db-backup is DOWN: exit code 1 <stderr> & more");
    expect(p.blocks[0].text.text).toContain("exit code 1 &lt;stderr&gt; &amp; more");
    expect(p.blocks[1].text.text).toContain("No space left on device");
    expect(p.blocks.at(-1).elements[0].text).toBe("<http://crontopus.test/jobs/ops/db-backup|Open ops/db-backup in Crontopus>");
  });

  test("discord gets content of at most 2000 characters, an embed, and no mentions", async () => {
    const { req } = await deliver("discord", { url: `${base}/api/webhooks/1/abc` }, { ...down, reason: "@everyone " + "x".repeat(3000) });
    const p = JSON.parse(req.body);
    expect(p.content.length).toBeLessThanOrEqual(2000);
    expect(p.content.startsWith("ops/db-backup is DOWN: @everyone")).toBe(true);
    expect(p.embeds[0]).toMatchObject({ title: "ops/db-backup", url: "http://crontopus.test/jobs/ops/db-backup", timestamp: down.since });
    expect(p.embeds[0].description).toContain("No space left on device");
    expect(p.allowed_mentions).toEqual({ parse: [] });
  });

  test("teams gets an Adaptive Card in a message envelope", async () => {
    const { result, req } = await deliver("teams", { url: `${base}/workflows/x/triggers/manual/paths/invoke` });
    expect(result.ok).toBe(true);
    const p = JSON.parse(req.body);
    expect(p.type).toBe("message");
    const att = p.attachments[0];
    expect(att.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(att.content).toMatchObject({ type: "AdaptiveCard", version: "1.4" });
    expect(att.content.body[0].text).toBe(summary(down));
    expect(att.content.body[1].facts).toContainEqual({ title: "Status", value: "down (was up)" });
    expect(att.content.actions[0]).toEqual({ type: "Action.OpenUrl", title: "Open in Crontopus", url: down.job!.url });
  });

  test("ntfy gets the text body with Title, Priority, Tags and Click headers", async () => {
    const { req } = await deliver("ntfy", { url: `${base}/crontopus-alerts`, token: "tk_abc" }, { ...down, reason: "no check-in — late" });
    expect(req.path).toBe("/crontopus-alerts");
    expect(req.body).toBe(text({ ...down, reason: "no check-in — late" }));
    // Not ASCII, so RFC 2047-encoded; ntfy decodes it.
    const title = req.headers.get("title")!;
    expect(title).toMatch(/^=\?UTF-8\?B\?/);
    expect(Buffer.from(title.slice(10, -2), "base64").toString()).toBe("ops/db-backup is DOWN: no check-in — late");
    expect(req.headers.get("priority")).toBe("high");
    expect(req.headers.get("tags")).toBe("rotating_light,crontopus,down");
    expect(req.headers.get("click")).toBe(down.job!.url);
    expect(req.headers.get("authorization")).toBe("Bearer tk_abc");

    const { req: ok } = await deliver("ntfy", { url: `${base}/crontopus-alerts`, priority: "urgent" }, recovered);
    expect(ok.headers.get("title")).toBe("ops/db-backup is UP again: success check-in received");
    expect(ok.headers.get("priority")).toBe("urgent");
    expect(ok.headers.get("tags")).toBe("white_check_mark,crontopus,up");
  });
});

describe("pagerduty", () => {
  test("trigger and resolve are Events v2 with the same dedup_key", async () => {
    const config = { routing_key: "R0UTINGKEY", url: `${base}/accepted` };
    const { result, req: trig } = await deliver("pagerduty", config);
    expect(result).toMatchObject({ ok: true, code: 202 });
    const t = JSON.parse(trig.body);
    expect(t).toMatchObject({
      routing_key: "R0UTINGKEY",
      event_action: "trigger",
      dedup_key: "crontopus-0193a1b2-job",
      payload: { summary: summary(down), source: "crontopus/acme", severity: "critical", component: "ops/db-backup" },
    });
    expect(t.payload.custom_details).toMatchObject({ reason: down.reason, last_output: down.last_output });

    const { req: res } = await deliver("pagerduty", config, recovered);
    const r = JSON.parse(res.body);
    expect(r.event_action).toBe("resolve");
    expect(r.dedup_key).toBe(t.dedup_key);

    const { req: again } = await deliver("pagerduty", { ...config, severity: "warning" }, { ...down, event: "renotify" });
    expect(JSON.parse(again.body)).toMatchObject({ event_action: "trigger", dedup_key: t.dedup_key, payload: { severity: "warning" } });
  });
});

describe("failures are results, never exceptions", () => {
  test("a receiver answering 500 gives ok:false with its code and body", async () => {
    const { result } = await deliver("webhook", { url: `${base}/fail` });
    expect(result).toEqual({ ok: false, code: 500, body: "boom: receiver exploded", error: "HTTP 500: boom: receiver exploded" });
  });

  test("a redirect is reported, not followed", async () => {
    const { result } = await deliver("slack", { url: `${base}/moved` });
    expect(result).toMatchObject({ ok: false, code: 302 });
  });

  test("a receiver that never answers times out", async () => {
    const started = performance.now();
    const result = await send({ type: "webhook", config: { url: `${base}/hang` } }, down, { ...noSmtp, timeoutMs: 300 });
    expect(result).toEqual({ ok: false, error: "timed out after 300 ms" });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("a refused connection is an error result", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const port = closed.port;
    closed.stop(true);
    const result = await send({ type: "discord", config: { url: `http://127.0.0.1:${port}/x` } }, down, noSmtp);
    expect(result.ok).toBe(false);
    expect(result.error).toBeTruthy();
  });

  test("email without CRONTOPUS_SMTP_URL is an error result", async () => {
    expect(await send({ type: "email", config: { to: ["ops@acme.test"] } }, down, noSmtp)).toEqual({
      ok: false,
      error: "email is not configured on this server: set CRONTOPUS_SMTP_URL",
    });
  });

  test("an unknown type is an error result", async () => {
    expect(await send({ type: "carrier-pigeon", config: {} }, down, noSmtp)).toMatchObject({ ok: false });
  });
});

describe("email", () => {
  let smtp: SmtpServer;
  let smtpUrl = "";

  beforeAll(async () => {
    smtp = await startSmtpServer();
    smtpUrl = smtp.url;
  });
  afterAll(() => smtp.stop());

  test("arrives with the summary as subject and the text as body", async () => {
    const result = await send({ type: "email", config: { to: ["ops@acme.test", "dba@acme.test"] } }, down, {
      smtpUrl,
      smtpFrom: "Crontopus <alerts@crontopus.test>",
      allowPrivateTargets: true,
    });
    expect(result).toEqual({ ok: true, code: 250, body: "250 Message accepted" });
    const mail = await smtp.next();
    expect(mail.from).toBe("alerts@crontopus.test");
    expect(mail.to).toEqual(["ops@acme.test", "dba@acme.test"]);
    expect(mail.subject).toBe("ops/db-backup is DOWN: no check-in since 02:10 UTC (grace 10m)");
    expect(mail.event).toBe("trigger");
    expect(mail.body.replace(/\r\n/g, "\n").trimEnd()).toBe(text(down));
  });

  test("an unreachable SMTP server is an error result", async () => {
    const result = await send({ type: "email", config: { to: ["ops@acme.test"] } }, down, {
      smtpUrl: "smtp://127.0.0.1:1",
      smtpFrom: "alerts@crontopus.test",
      timeoutMs: 500,
      allowPrivateTargets: true,
    });
    expect(result.ok).toBe(false);
    expect(result.error).toBeTruthy();
  });

  test("a relay on an internal address is refused unless internal targets are allowed", async () => {
    const port = new URL(smtpUrl).port;
    for (const host of ["127.0.0.1", "2130706433", "localhost"]) {
      const result = await send({ type: "email", config: { to: ["ops@acme.test"] } }, down, { smtpUrl: `smtp://${host}:${port}`, smtpFrom: "alerts@crontopus.test" });
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining("refused") });
    }
    // The next message the relay got is this one: none of the refused ones reached it.
    const ok = await send({ type: "email", config: { to: ["after@acme.test"] } }, down, { smtpUrl, smtpFrom: "alerts@crontopus.test", allowPrivateTargets: true });
    expect(ok.ok).toBe(true);
    expect((await smtp.next()).to).toEqual(["after@acme.test"]);
  });
});

describe("validateChannel", () => {
  const invalid = (type: string, config: unknown) => {
    try {
      validateChannel(type, config);
    } catch (e) {
      if (e instanceof AppError) return (e.details as { field: string }[])[0]!.field + " " + e.message;
      throw e;
    }
    throw new Error("expected Invalid");
  };

  test("names the offending field", () => {
    expect(invalid("sms", {})).toContain("type: must be one of webhook, slack, discord, teams, email, pagerduty, ntfy");
    expect(invalid("webhook", {})).toStartWith("config.url ");
    expect(invalid("webhook", { url: "ftp://example.com/x" })).toStartWith("config.url ");
    expect(invalid("slack", { url: "not a url" })).toStartWith("config.url ");
    expect(invalid("webhook", { url: "https://x.test", headers: { "Bad Header": "v" } })).toStartWith("config.headers.Bad Header ");
    expect(invalid("webhook", { url: "https://x.test", sekret: "typo" })).toStartWith("config.sekret ");
    expect(invalid("email", {})).toStartWith("config.to ");
    expect(invalid("email", { to: [] })).toStartWith("config.to ");
    expect(invalid("email", { to: ["ops@acme.test", "nobody"] })).toStartWith("config.to ");
    expect(invalid("pagerduty", {})).toStartWith("config.routing_key ");
    expect(invalid("pagerduty", { routing_key: "k", severity: "apocalyptic" })).toStartWith("config.severity ");
    expect(invalid("ntfy", { url: "https://ntfy.sh/" })).toStartWith("config.url ");
  });

  test("accepts good configs, an email string list included", () => {
    expect(validateChannel("email", { to: "ops@acme.test, dba@acme.test" }).config).toEqual({ to: ["ops@acme.test", "dba@acme.test"] });
    expect(validateChannel("pagerduty", { routing_key: " abc ", severity: "error" }).config).toEqual({ routing_key: "abc", severity: "error" });
    expect(validateChannel("ntfy", { url: "https://ntfy.sh/ops", priority: 5 }).config).toEqual({ url: "https://ntfy.sh/ops", priority: "5" });
  });

  test("refuses internal addresses and localhost in every URL field, resolving no name", () => {
    for (const [type, config] of [
      ["webhook", { url: "http://127.0.0.1:8080/api/v1/tenants" }],
      ["slack", { url: "http://2130706433/x" }],
      ["discord", { url: "http://0177.0.0.1/x" }],
      ["teams", { url: "http://[::ffff:127.0.0.1]/x" }],
      ["ntfy", { url: "http://localhost/topic" }],
      ["pagerduty", { routing_key: "k", url: "http://169.254.169.254/latest/meta-data/" }],
      ["webhook", { url: "http://10.0.0.5/hook" }],
      ["webhook", { url: "http://[fd00::1]/hook" }],
    ] as const) {
      expect(invalid(type, config)).toStartWith("config.url config.url: may not point inside this server's network");
    }
    // A name is not looked up when saved: this one does not even exist.
    expect(validateChannel("webhook", { url: "https://hooks.example.invalid/x" }).config.url).toBe("https://hooks.example.invalid/x");
    expect(validateChannel("webhook", { url: "http://127.0.0.1/x" }, { allowPrivateTargets: true }).config.url).toBe("http://127.0.0.1/x");
  });
});

describe("maskConfig", () => {
  test("hides secrets, keys, tokens, URL passwords and chat webhook paths", () => {
    expect(maskConfig("webhook", { url: "https://bot:hunter2@x.test/hook?api_key=abc&team=ops", secret: "s", headers: { Authorization: "Bearer t", "X-Team": "ops" } })).toEqual({
      url: "https://bot:****@x.test/hook?api_key=****&team=ops",
      secret: "********",
      headers: { Authorization: "********", "X-Team": "ops" },
    });
    expect(maskConfig("slack", { url: "https://hooks.slack.com/services/T0/B0/XXXX" })).toEqual({ url: "https://hooks.slack.com/****" });
    expect(maskConfig("discord", { url: "https://discord.com/api/webhooks/1/tok" })).toEqual({ url: "https://discord.com/****" });
    expect(maskConfig("teams", { url: "https://prod.logic.azure.com/workflows/1/invoke?sig=abc" })).toEqual({ url: "https://prod.logic.azure.com/****" });
    expect(maskConfig("pagerduty", { routing_key: "R0UTING", severity: "error" })).toEqual({ routing_key: "********", severity: "error" });
    expect(maskConfig("ntfy", { url: "https://ntfy.sh/secret-topic", token: "tk" })).toEqual({ url: "https://ntfy.sh/****", token: "********" });
    expect(maskConfig("email", { to: ["ops@acme.test"] })).toEqual({ to: ["ops@acme.test"] });
  });

  test("a masked config sent back keeps the stored secrets; changed values win", () => {
    const stored = { url: "https://x.test/hook", secret: "s3cret", headers: { Authorization: "Bearer t", "X-Team": "ops" } };
    const edited = { ...maskConfig("webhook", stored), headers: { Authorization: "********", "X-Team": "dev" } };
    expect(unmaskConfig("webhook", edited, stored)).toEqual({ ...stored, headers: { Authorization: "Bearer t", "X-Team": "dev" } });
    expect(unmaskConfig("webhook", { ...edited, secret: "new" }, stored)).toMatchObject({ secret: "new" });
  });
});

describe("a GitOps alert, in every channel type", () => {
  const errors = [
    { path: "production/backup.yaml", line: 6, column: 3, message: 'spec.schedule: "every tuesday" is not a cron expression' },
    { path: "staging/report.yaml", line: 4, column: 9, message: "YAML: unexpected end of the stream" },
  ];
  const degraded: AlertMessage = {
    event: "trigger",
    tenant: { slug: "acme", name: "Acme Inc" },
    job: null,
    gitops: {
      repository: "https://git.acme.test/ops/jobs.git",
      branch: "main",
      commit: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
      last_good_commit: "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
      errors,
      errors_total: 7,
      url: "http://crontopus.test/settings/gitops",
    },
    status: "degraded",
    previous_status: "ok",
    reason: "7 file errors in commit 1a2b3c4d5e6f; the rest was applied",
    since: "2026-11-03T02:20:00.000Z",
    last_output: null,
    dedup_key: "crontopus-gitops-tenant-1",
  };
  const back: AlertMessage = { ...degraded, event: "resolve", status: "ok", previous_status: "degraded", reason: "commit 2b3c4d5e6f7a synced", gitops: { ...degraded.gitops!, errors: [], errors_total: 0 } };
  const lines = ["production/backup.yaml:6:3 spec.schedule: \"every tuesday\" is not a cron expression", "staging/report.yaml:4:9 YAML: unexpected end of the stream", "… and 5 more"];

  test("the summary names the tenant's sync and its state; the text has the repository, the errors and the GitOps page", () => {
    expect(summary(degraded)).toBe("GitOps sync of acme is DEGRADED: 7 file errors in commit 1a2b3c4d5e6f; the rest was applied");
    expect(summary(back)).toBe("GitOps sync of acme is OK again: commit 2b3c4d5e6f7a synced");
    const body = text(degraded);
    expect(body).toContain("Repo:     https://git.acme.test/ops/jobs.git (main)");
    expect(body).toContain("Commit:   1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d");
    expect(body).toContain("Status:   degraded (was ok)");
    expect(body).toContain(["Errors:", ...lines.map((l) => `  ${l}`)].join("\n"));
    expect(body).toEndWith("Open in Crontopus: http://crontopus.test/settings/gitops");
    expect(text(back)).not.toContain("Errors:");
  });

  test("webhook: the message with its gitops object, as docs/alerts.md shows it", async () => {
    const { req } = await deliver("webhook", { url: `${base}/hook` }, degraded);
    expect(req.headers.get("x-crontopus-event")).toBe("trigger");
    const body = JSON.parse(req.body);
    expect(body).toMatchObject({ event: "trigger", job: null, status: "degraded", previous_status: "ok", dedup_key: "crontopus-gitops-tenant-1", summary: summary(degraded) });
    expect(body.gitops).toEqual(degraded.gitops);
  });

  test("slack, discord and teams carry the errors and the link to the GitOps page", async () => {
    const slack = JSON.parse((await deliver("slack", { url: `${base}/slack` }, degraded)).req.body);
    expect(slack.blocks[0].text.text).toContain("*Repository:* https://git.acme.test/ops/jobs.git (main)");
    expect(slack.blocks[1].text.text).toBe("```" + lines.join("\n") + "```");
    expect(slack.blocks[2].elements[0].text).toBe("<http://crontopus.test/settings/gitops|Open GitOps sync of acme in Crontopus>");

    const discord = JSON.parse((await deliver("discord", { url: `${base}/discord` }, degraded)).req.body);
    expect(discord.embeds[0].url).toBe("http://crontopus.test/settings/gitops");
    expect(discord.embeds[0].title).toBe("GitOps sync of acme");
    for (const l of lines) expect(discord.embeds[0].description).toContain(l);
    expect(discord.embeds[0].color).toBe(0xd93f0b);

    const teams = JSON.parse((await deliver("teams", { url: `${base}/teams` }, degraded)).req.body);
    const card = teams.attachments[0].content;
    expect(card.actions).toEqual([{ type: "Action.OpenUrl", title: "Open in Crontopus", url: "http://crontopus.test/settings/gitops" }]);
    expect(JSON.stringify(card.body)).toContain(JSON.stringify(lines[1]).slice(1, -1));
    expect(card.body[1].facts).toContainEqual({ title: "Repository", value: "https://git.acme.test/ops/jobs.git (main)" });
  });

  test("ntfy gets the text with a click to the GitOps page; pagerduty opens and resolves one incident per tenant", async () => {
    const ntfy = (await deliver("ntfy", { url: `${base}/acme-topic` }, degraded)).req;
    expect(ntfy.headers.get("click")).toBe("http://crontopus.test/settings/gitops");
    expect(ntfy.headers.get("tags")).toBe("rotating_light,crontopus,degraded");
    expect(ntfy.body).toBe(text(degraded));

    const open = JSON.parse((await deliver("pagerduty", { routing_key: "R0123", url: `${base}/pd` }, degraded)).req.body);
    const close = JSON.parse((await deliver("pagerduty", { routing_key: "R0123", url: `${base}/pd` }, back)).req.body);
    expect([open.event_action, close.event_action]).toEqual(["trigger", "resolve"]);
    expect(open.dedup_key).toBe(close.dedup_key);
    expect(open.payload).toMatchObject({ component: "gitops", class: "degraded", severity: "critical" });
    expect(open.payload.custom_details.gitops.errors_total).toBe(7);
    expect(open.links).toEqual([{ href: "http://crontopus.test/settings/gitops", text: "Open in Crontopus" }]);
  });

  test("email: the summary as subject, the text with the errors as body", async () => {
    const smtp = await startSmtpServer();
    try {
      const result = await send({ type: "email", config: { to: ["ops@acme.test"] } }, degraded, { smtpUrl: smtp.url, smtpFrom: "alerts@crontopus.test", allowPrivateTargets: true });
      expect(result.ok).toBe(true);
      const mail = await smtp.next();
      expect(mail.subject).toBe(summary(degraded));
      expect(mail.event).toBe("trigger");
      expect(mail.body.replace(/\r\n/g, "\n").trimEnd()).toBe(text(degraded));
    } finally {
      smtp.stop();
    }
  });
});
