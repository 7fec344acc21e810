// The jobs list's "Next run" of a job whose expected run did not come says it is overdue, rather
// than showing a next run in the past ("7 min ago"), as it did (found trying it as a new user).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { FormClient } from "./client";

const clock = new TestClock();
let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_TICK_MS: "20" }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
});
afterAll(() => s.close());

test("a job whose expected run did not come is overdue in the list, not due in the past", async () => {
  const r = await s.api("/api/v1/jobs/ops/hourly", { method: "PUT", token: alice.token, json: { schedule: "@every 1h", grace: "5m" } });
  const { ping_url } = (await r.json()) as { ping_url: string };
  expect((await fetch(ping_url, { method: "POST" })).status).toBe(200);
  const page = new FormClient(s.url);
  await page.login(alice.email, PASSWORD);
  const row = async () => {
    const { html } = await page.get("/jobs");
    const start = html.indexOf("ops/hourly") >= 0 ? html.indexOf('href="/jobs/ops/hourly"') : -1;
    expect(start).toBeGreaterThan(0);
    return html.slice(start, html.indexOf("</tr>", start));
  };
  expect(await row()).toContain(">in 1 h</time>");
  expect(await row()).not.toContain("overdue");
  clock.advance(70 * 60_000);
  expect(await row()).toContain("overdue: due <time");
  expect(await row()).toContain(">10 min ago</time>");
});
