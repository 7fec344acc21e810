// First run, at the service: the link the server gives out while it has no user creates alice, the
// first owner, and her tenant; then it is spent. Once any user exists (made by `admin create-user`,
// say) no link is given out, and one given out before stops working.
import { describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { listUserTenants } from "../tenants/members";
import { createUser, verifyLogin } from "./identity";
import { FirstRun } from "./setup";
import { rejected } from "../../test/thrown";

const NOW = Date.UTC(2026, 11, 1, 9);
const PASSWORD = "correct horse battery";

function fresh() {
  const db = openDb(":memory:");
  migrate(db);
  return db;
}

const alice = (token: string) => ({ token, email: "alice@example.com", password: PASSWORD, name: "Alice", tenant: "acme", tenantName: "Acme Inc." });

describe("the setup link", () => {
  test("creates the first user as owner of a new tenant, and works once", async () => {
    const db = fresh();
    const first = new FirstRun();
    const token = first.open(db)!;
    expect(token.length).toBeGreaterThan(20);
    expect(first.admits(db, token)).toBe(true);
    const { user, tenant } = await first.complete(db, alice(token), NOW);
    expect(user).toMatchObject({ email: "alice@example.com", name: "Alice", created_at: NOW });
    expect(tenant).toMatchObject({ slug: "acme", name: "Acme Inc." });
    expect(listUserTenants(db, user.id).map((m) => [m.slug, m.role])).toEqual([["acme", "owner"]]);
    expect((await verifyLogin(db, "alice@example.com", PASSWORD)).id).toBe(user.id);

    expect(first.admits(db, token)).toBe(false);
    await rejected(NotFound, first.complete(db, { ...alice(token), email: "mallory@example.com", tenant: "evil" }, NOW));
    expect(db.query("SELECT email FROM users").all()).toEqual([{ email: "alice@example.com" }]);
  });

  test("is not given out by a server that has a user, and stops working once one is made elsewhere", async () => {
    const db = fresh();
    const first = new FirstRun();
    const token = first.open(db)!;
    // bob is made by `crontopus admin create-user` on the data directory while the server runs.
    await createUser(db, { email: "bob@example.com", password: PASSWORD });
    expect(first.admits(db, token)).toBe(false);
    await rejected(NotFound, first.complete(db, alice(token), NOW));
    expect(first.open(db)).toBeNull();
  });

  test("a wrong token, no token, or the token of an earlier start opens nothing", async () => {
    const db = fresh();
    const first = new FirstRun();
    const old = first.open(db)!;
    const current = first.open(db)!;
    expect(current).not.toBe(old);
    for (const t of [old, "", null, undefined, current.slice(0, -1), current + "x"]) expect(first.admits(db, t)).toBe(false);
    expect(first.admits(db, current)).toBe(true);
  });

  test("bad input is refused field by field and leaves the link open", async () => {
    const db = fresh();
    const first = new FirstRun();
    const token = first.open(db)!;
    for (const [input, field] of [
      [{ email: "not-an-email" }, "email"],
      [{ password: "short" }, "password"],
      [{ tenant: "Not A Slug" }, "tenant"],
      [{ tenant: "" }, "tenant"],
    ] as const) {
      const e = await rejected(Invalid, first.complete(db, { ...alice(token), ...input }, NOW));
      expect(`${JSON.stringify(input)} -> ${e.field}`).toBe(`${JSON.stringify(input)} -> ${field}`);
    }
    expect(db.query("SELECT count(*) AS n FROM users").get()).toEqual({ n: 0 });
    expect(first.admits(db, token)).toBe(true);
  });

  test("two setups sent at once make one owner", async () => {
    const db = fresh();
    const first = new FirstRun();
    const token = first.open(db)!;
    const results = await Promise.allSettled([first.complete(db, alice(token), NOW), first.complete(db, { ...alice(token), email: "eve@example.com", tenant: "eve" }, NOW)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const failure = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(failure.reason).toBeInstanceOf(Conflict);
    expect(db.query("SELECT count(*) AS n FROM users").get()).toEqual({ n: 1 });
  });
});
