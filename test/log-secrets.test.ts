// No secret in the log. A real server at debug level is put through every kind of request that
// carries one (the setup link, passwords, session cookies, API, enrollment, agent and invitation
// tokens, ping tokens and the tenant's ping key, the metrics token, channel secrets, the SMTP
// password), right and wrong, with alerts failing against a receiver that echoes what it was
// sent; then every secret used is looked for in every line it wrote.
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, cli, freePort, tempDir } from "./helpers";

const dirs: string[] = [];
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a run of real requests with every kind of secret writes none of them to the log", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const secrets: Record<string, string> = {};
  const keep = (what: string, value: string) => {
    expect(value.length).toBeGreaterThanOrEqual(8);
    secrets[what] = value;
    return value;
  };

  // A receiver that answers 500 with everything it was sent, headers and body.
  const echo = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      return new Response(JSON.stringify({ url: req.url, headers: req.headers.toJSON(), body: await req.text() }), { status: 500 });
    },
  });
  const closedPort = await freePort();
  const smtpPassword = keep("SMTP password", "smtp-pass-Hunter2xyz");
  const metricsToken = keep("metrics token", "metrics-token-Zq81kd0s");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([BUN, MAIN, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], {
    env: {
      ...process.env,
      CRONTOPUS_LOG_LEVEL: "debug",
      CRONTOPUS_LOG_FORMAT: "json",
      CRONTOPUS_BASE_URL: url,
      CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true",
      CRONTOPUS_SMTP_URL: `smtp://alerts:${smtpPassword}@127.0.0.1:${closedPort}`,
      CRONTOPUS_METRICS_TOKEN: metricsToken,
      CRONTOPUS_PING_RATE_LIMIT: "5",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  procs.push(proc);
  const stdout = proc.stdout.getReader();
  let printed = "";
  while (!/setup\?token=\S+\n/.test(printed)) printed += new TextDecoder().decode((await stdout.read()).value);
  const setupUrl = /(http\S+setup\?token=(\S+))\n/.exec(printed)!;
  keep("setup token", setupUrl[2]!);
  for (let i = 0; i < 200 && !(await fetch(url + "/health").then((r) => r.ok, () => false)); i++) await Bun.sleep(50);

  // The setup link, right and wrong.
  await fetch(setupUrl[1]!);
  await fetch(`${url}/setup?token=${secrets["setup token"]!.split("").reverse().join("")}`);

  // Passwords: the first owner made on the server, then logins right and wrong.
  const password = keep("password", "correct horse battery staple");
  const made = await cli(["admin", "create-user", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme"], {}, password + "\n");
  expect(made.code).toBe(0);
  const login = (pw: string) => fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "alice@example.com", password: pw }) });
  expect((await login(keep("wrong password", "not-the-password-42"))).status).toBe(401);
  const loggedIn = await login(password);
  expect(loggedIn.status).toBe(200);
  const cookie = loggedIn.headers.get("set-cookie")!.split(";")[0]!;
  keep("session id", cookie.split("=")[1]!);
  await fetch(`${url}/api/v1/me`, { headers: { cookie } });
  await fetch(`${url}/`, { headers: { cookie } });
  await fetch(`${url}/jobs`, { headers: { cookie: `${cookie.split("=")[0]}=${secrets["session id"]!.slice(0, -3)}zzz` } });
  // A console login form sent without its CSRF token: refused, with the password in the body.
  await fetch(`${url}/login`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: url }, body: `email=alice%40example.com&password=${encodeURIComponent(password)}` });

  // API tokens, right, wrong and revoked.
  const token = keep("API token", (await cli(["admin", "create-token", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme", "--name", "scan"])).stdout.trim());
  const api = (path: string, init: { method?: string; json?: unknown; token?: string } = {}) =>
    fetch(url + path, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${init.token ?? token}`, "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
  expect((await api("/api/v1/jobs")).status).toBe(200);
  await api("/api/v1/jobs", { token: keep("forged API token", "ctp_" + "Q".repeat(43)) });
  const second = (await (await api("/api/v1/tokens", { method: "POST", json: { name: "short-lived" } })).json()) as { token: string; id?: string; api_token?: { id: string } };
  keep("second API token", second.token);
  const tokens = (await (await api("/api/v1/tokens")).json()) as { tokens: { id: string; name: string }[] };
  await api(`/api/v1/tokens/${tokens.tokens.find((t) => t.name === "short-lived")!.id}`, { method: "DELETE" });
  await api("/api/v1/jobs", { token: second.token });

  // Channels with secrets, each failing against the echoing receiver, and an email channel.
  const webhookSecret = keep("webhook secret", "whsec-Kq93nd02xhs");
  const ntfyToken = keep("ntfy token", "tk_ntfyAccessToken77");
  const routingKey = keep("PagerDuty routing key", "R0UT1NGKEY0123456789abcdefghijkl");
  const hookPath = keep("webhook URL path", "T0SECRET/B0SECRET/xoxhookpath");
  const channelIds: string[] = [];
  for (const channel of [
    { name: "hook", type: "webhook", config: { url: `${echo.url}hooks/${hookPath}?sig=${hookPath}`, secret: webhookSecret, headers: { "X-Api-Key": webhookSecret } } },
    { name: "phone", type: "ntfy", config: { url: `${echo.url}alerts-topic`, token: ntfyToken } },
    { name: "pager", type: "pagerduty", config: { routing_key: routingKey, url: `${echo.url}v2/enqueue` } },
    { name: "mail", type: "email", config: { to: ["oncall@example.com"] } },
  ]) {
    const r = await api("/api/v1/channels", { method: "POST", json: channel });
    expect(r.status).toBe(201);
    const id = ((await r.json()) as { channel?: { id: string }; id?: string });
    channelIds.push(id.channel?.id ?? id.id!);
  }
  for (const id of channelIds) await api(`/api/v1/channels/${id}/test`, { method: "POST" });

  // Jobs and their pings: success, failure (an alert through every channel), a wrong token, the
  // tenant's ping key with a slug, more than the rate limit allows.
  const job = (await (await api("/api/v1/jobs/ops/nightly", { method: "PUT", json: { schedule: "@daily" } })).json()) as { ping_url: string };
  keep("ping token", job.ping_url.split("/").pop()!);
  await fetch(job.ping_url + "/start");
  await fetch(job.ping_url, { method: "POST", body: "all good" });
  await fetch(job.ping_url + "/fail", { method: "POST", body: "broken" });
  for (let i = 0; i < 8; i++) await fetch(job.ping_url + "/log");
  await fetch(`${url}/ping/${keep("wrong ping token", "NotAPingToken0123456789abc")}`);
  const tenant = (await (await api("/api/v1/tenants/current")).json()) as { ping_key: string };
  keep("tenant ping key", tenant.ping_key);
  await fetch(`${url}/ping/${tenant.ping_key}/nightly`);
  await fetch(`${url}/ping/${tenant.ping_key}/brand-new-job?create=1`);

  // Enrollment and agent tokens.
  const enrollment = (await (await api("/api/v1/enrollment-tokens", { method: "POST", json: { name: "web" } })).json()) as { token: string };
  keep("enrollment token", enrollment.token);
  const host = { hostname: "web1.example.com", platform: "linux", arch: "x64", scheduler: "crontab", machine_id: "0123456789abcdef0123456789abcdef" };
  const enrolled = await fetch(`${url}/api/v1/agent/enroll`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: enrollment.token, ...host }) });
  expect(enrolled.status).toBe(201);
  const agentToken = keep("agent token", ((await enrolled.json()) as { token: string }).token);
  await fetch(`${url}/api/v1/agent/enroll`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "cte_" + "W".repeat(43), ...host }) });
  await fetch(`${url}/api/v1/agent/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${agentToken}`, "content-type": "application/json" }, body: "{}" });
  await fetch(`${url}/api/v1/agent/desired-state`, { headers: { authorization: `Bearer ${agentToken}` } });
  await fetch(`${url}/api/v1/agent/heartbeat`, { method: "POST", headers: { authorization: `Bearer cta_${"V".repeat(43)}`, "content-type": "application/json" }, body: "{}" });

  // Invitations: the link (mailed through the SMTP relay, which refuses), opened and accepted.
  const invited = (await (await api("/api/v1/tenants/current/invitations", { method: "POST", json: { email: "bob@example.com", role: "member" } })).json()) as { url: string };
  const invitation = keep("invitation token", invited.url.split("/").pop()!);
  await fetch(invited.url);
  await fetch(`${url}/api/v1/invitations/${invitation}/accept`, { method: "POST", headers: { cookie } });

  // The metrics token, right and wrong.
  await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken.slice(0, -2)}xx` } });

  // Let the dispatcher try the alerts, then stop (the request summaries are written at stop).
  await Bun.sleep(1500);
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  echo.stop(true);
  const log = await new Response(proc.stderr).text();
  const lines = log.trim().split("\n");
  // One event per line, each a JSON object.
  for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  const msgs = new Set(lines.map((l) => JSON.parse(l).msg as string));
  // The log did see this traffic: request lines, failing alerts, the mail refused.
  for (const m of ["request", "requests", "notification failed, will retry", "invitation not mailed"]) expect(msgs).toContain(m);
  const found = Object.entries(secrets).filter(([, value]) => log.includes(value));
  if (found.length) console.log(lines.filter((l) => found.some(([, v]) => l.includes(v))).join("\n"));
  expect(found.map(([what]) => what)).toEqual([]);
  console.log(`scanned ${lines.length} log lines for ${Object.keys(secrets).length} secrets: none found`);
}, 120_000);
