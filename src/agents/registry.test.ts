// The register of agents at the service: alice's hosts as values the console can render, and
// charlie (another tenant) who can neither see, rename nor forget them.
import { beforeEach, describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { NotFound } from "../errors";
import { createEnrollmentToken, enroll, listEnrollmentTokens } from "./enrollment";
import { deleteAgent, findAgent, listAgents, patchAgent } from "./registry";
import type { Agent } from "./model";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
let db: Db;
let acme: string;
let globex: string;

function enrollHost(tenantId: string, machine: string, labels?: Record<string, string>): Agent {
  const { token } = createEnrollmentToken(db, tenantId, null, { name: "hosts", labels: { role: "web" }, max_uses: 5 }, T0);
  const info = { hostname: `${machine}.acme.test`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine, labels };
  return enroll(db, { token, ...info }, 60, T0 + 1000).agent;
}

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
});

describe("agents as values", () => {
  test("an agent comes back with its labels as a map, its times in epoch ms and its flags as booleans, without its token", () => {
    enrollHost(acme, "web1", { tier: "1" });
    const [web1] = listAgents(db, acme);
    expect(web1).toMatchObject({
      name: "web1",
      hostname: "web1.acme.test",
      labels: { role: "web", tier: "1" },
      status: "online",
      status_since: T0 + 1000,
      last_seen_at: T0 + 1000,
      next_deadline: T0 + 1000 + 3 * 60_000,
      last_sync_at: null,
      alerting: false,
      created_at: T0 + 1000,
    });
    expect(web1).not.toHaveProperty("token_hash");
  });

  test("an enrollment token comes back with its use counted and whether it still enrolls", () => {
    enrollHost(acme, "web1");
    const [token] = listEnrollmentTokens(db, acme, T0 + 2000);
    expect(token).toMatchObject({ name: "hosts", labels: { role: "web" }, max_uses: 5, uses: 1, usable: true, expires_at: null, last_used_at: T0 + 1000 });
    expect(token).not.toHaveProperty("token_hash");
  });
});

describe("changing an agent", () => {
  test("a longer heartbeat interval moves the offline deadline out; a shorter one leaves it until the next heartbeat", () => {
    enrollHost(acme, "web1");
    expect(patchAgent(db, acme, "web1", { interval_s: 120 }, T0 + 2000).next_deadline).toBe(T0 + 1000 + 3 * 120_000);
    expect(patchAgent(db, acme, "web1", { interval_s: 10 }, T0 + 3000)).toMatchObject({ interval_s: 10, next_deadline: T0 + 1000 + 3 * 120_000 });
  });

  test("renaming and relabelling are kept; labels are replaced as a whole", () => {
    enrollHost(acme, "web1", { tier: "1" });
    const web = patchAgent(db, acme, "web1", { name: "web-1", labels: { rack: "r2" } }, T0 + 2000);
    expect(web).toMatchObject({ name: "web-1", labels: { rack: "r2" }, updated_at: T0 + 2000 });
    expect(findAgent(db, acme, "web-1").labels).toEqual({ rack: "r2" });
  });
});

describe("another tenant's agent", () => {
  test("is not listed, and cannot be found, renamed or forgotten", () => {
    const web1 = enrollHost(acme, "web1");
    enrollHost(globex, "gx1");
    expect(listAgents(db, globex).map((a) => a.name)).toEqual(["gx1"]);
    for (const ref of [web1.id, "web1"]) {
      expect(() => findAgent(db, globex, ref)).toThrow(NotFound);
      expect(() => patchAgent(db, globex, ref, { name: "mine" }, T0 + 2000)).toThrow(NotFound);
      expect(() => deleteAgent(db, globex, ref)).toThrow(NotFound);
    }
    expect(findAgent(db, acme, web1.id)).toMatchObject({ name: "web1", updated_at: web1.updated_at });
  });

  test("forgetting one's own agent leaves the other tenant's alone", () => {
    enrollHost(acme, "web1");
    enrollHost(globex, "web1");
    deleteAgent(db, acme, "web1");
    expect(listAgents(db, acme)).toEqual([]);
    expect(listAgents(db, globex).map((a) => a.name)).toEqual(["web1"]);
  });
});
