// The deliveries a tenant has seen, over a real database: a forge's redelivery is recognised, per
// tenant and per forge, and the table stays bounded.
import { describe, expect, test } from "bun:test";
import { ownerOf } from "../../test/helpers";
import { recordDelivery } from "./deliveries";

describe("recordDelivery", () => {
  test("a delivery is new once; its id again is a repeat", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme"]);
    expect(recordDelivery(db, tenants.acme!, "github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 1)).toBe(true);
    expect(recordDelivery(db, tenants.acme!, "github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 2)).toBe(false);
    expect(recordDelivery(db, tenants.acme!, "github", "72d3162e-cc78-11e3-81ab-4c9367dc0959", 3)).toBe(true);
  });

  test("a delivery without an id is never taken for a repeat: nothing names it", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme"]);
    expect(recordDelivery(db, tenants.acme!, "gitea", null, 1)).toBe(true);
    expect(recordDelivery(db, tenants.acme!, "gitea", null, 2)).toBe(true);
    expect(recordDelivery(db, tenants.acme!, "gitea", "", 3)).toBe(true);
  });

  test("ids are per forge and per tenant: the same id from Gitea and Forgejo, or to two tenants, is two deliveries", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme", "globex"]);
    expect(recordDelivery(db, tenants.acme!, "gitea", "42", 1)).toBe(true);
    expect(recordDelivery(db, tenants.acme!, "forgejo", "42", 1)).toBe(true);
    expect(recordDelivery(db, tenants.globex!, "gitea", "42", 1)).toBe(true);
    expect(recordDelivery(db, tenants.acme!, "gitea", "42", 2)).toBe(false);
  });

  test("keeps the newest ids only, per tenant: an old one is forgotten, the others' are kept", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme", "globex"]);
    recordDelivery(db, tenants.globex!, "github", "g-1", 0, 3);
    for (let i = 1; i <= 5; i++) expect(recordDelivery(db, tenants.acme!, "github", `d-${i}`, i, 3)).toBe(true);
    const kept = (tenant: string) =>
      db.query<{ delivery_id: string }, [string]>("SELECT delivery_id FROM gitops_deliveries WHERE tenant_id = ? ORDER BY id").all(tenant).map((r) => r.delivery_id);
    expect(kept(tenants.acme!)).toEqual(["d-3", "d-4", "d-5"]);
    expect(kept(tenants.globex!)).toEqual(["g-1"]);
    expect(recordDelivery(db, tenants.acme!, "github", "d-5", 6, 3)).toBe(false);
    // Forgotten: it would sync again, which costs one fetch for an unchanged head.
    expect(recordDelivery(db, tenants.acme!, "github", "d-1", 7, 3)).toBe(true);
  });
});
