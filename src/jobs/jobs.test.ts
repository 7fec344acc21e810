// The job write rules at the service: alice applies the same spec again.
import { expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { getJob, patchJob, putJob } from "./jobs";

function setup() {
  const db = openDb(":memory:");
  migrate(db);
  return { db, tenantId: createTenant(db, { slug: "acme" }, null).id };
}

test("putting the same spec again writes nothing: changed is false and updated_at stays", () => {
  const { db, tenantId } = setup();
  const spec = { schedule: "30 2 * * *", labels: { team: "db" }, grace: "10m" };
  const first = putJob(db, tenantId, "ops", "nightly", spec, 1_000);
  expect(first).toMatchObject({ created: true, changed: true });
  const again = putJob(db, tenantId, "ops", "nightly", { ...spec }, 60_000);
  expect(again).toMatchObject({ created: false, changed: false });
  expect(getJob(db, tenantId, "ops", "nightly").updated_at).toBe(1_000);
  // The same fields through PATCH are no change either; another value is.
  expect(patchJob(db, tenantId, "ops", "nightly", { grace: 600 }, 70_000).changed).toBe(false);
  const moved = putJob(db, tenantId, "ops", "nightly", { ...spec, schedule: "45 2 * * *" }, 80_000);
  expect(moved.changed).toBe(true);
  expect(getJob(db, tenantId, "ops", "nightly").updated_at).toBe(80_000);
});
