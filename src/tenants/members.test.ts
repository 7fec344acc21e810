// Memberships, at the service: memberChanges, which the console uses to offer only the changes that
// would work, says exactly what updateMember and removeMember allow. In each case olga owns acme
// (unless the target is its one owner) and tom is the member changed, by an actor of some role.
import { describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { hashPassword, insertUser } from "../auth/identity";
import { PASSWORD } from "../../test/helpers";
import { createTenant } from "./tenants";
import { addMember, checkOwnerRule, grantableRoles, listMembers, memberChanges, removeMember, ROLES, updateMember, type Role } from "./members";

const HASH = await hashPassword(PASSWORD);

/** A fresh tenant in which tom has `target`; `owners` owners in all when tom is one. */
async function acmeWithTom(target: Role, owners: number) {
  const db = openDb(":memory:");
  migrate(db);
  const tom = insertUser(db, { email: "tom@example.com", password: PASSWORD }, HASH, 0);
  const olga = insertUser(db, { email: "olga@example.com", password: PASSWORD }, HASH, 0);
  const soleOwner = target === "owner" && owners === 1;
  const acme = createTenant(db, { slug: "acme" }, soleOwner ? tom.id : olga.id).id;
  if (!soleOwner) await addMember(db, acme, "owner", { email: tom.email, role: target });
  const ownerCount = listMembers(db, acme).filter((m) => m.role === "owner").length;
  return { db, acme, tom: tom.id, ownerCount };
}

const works = (fn: () => unknown) => {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
};

describe("grantableRoles", () => {
  test("an owner grants every role, an admin every role but owner: what the owner rule lets through", () => {
    expect(grantableRoles("owner")).toEqual(["owner", "admin", "member", "viewer"]);
    expect(grantableRoles("admin")).toEqual(["admin", "member", "viewer"]);
    for (const actor of ROLES) for (const role of ROLES) expect(`${actor} grants ${role}: ${grantableRoles(actor).includes(role)}`).toBe(`${actor} grants ${role}: ${works(() => checkOwnerRule(actor, role))}`);
  });
});

describe("memberChanges", () => {
  test("offers an admin no change to an owner and no owner role to give", () => {
    expect(memberChanges("admin", "owner", 2)).toEqual({ roles: [], removable: false });
    expect(memberChanges("admin", "member", 1)).toEqual({ roles: ["admin", "member", "viewer"], removable: true });
  });

  test("offers an owner every role, except that the last owner stays an owner", () => {
    expect(memberChanges("owner", "viewer", 1)).toEqual({ roles: [...ROLES], removable: true });
    expect(memberChanges("owner", "owner", 1)).toEqual({ roles: ["owner"], removable: false });
    expect(memberChanges("owner", "owner", 2)).toEqual({ roles: [...ROLES], removable: true });
  });

  test("offers what updateMember and removeMember do, for every actor, target role and new role, with one owner and two", async () => {
    const cases: string[] = [];
    for (const owners of [1, 2]) {
      for (const actor of ["owner", "admin"] as Role[]) {
        for (const target of ROLES) {
          const { ownerCount } = await acmeWithTom(target, owners);
          const offered = memberChanges(actor, target, ownerCount);
          for (const role of ROLES) {
            const { db, acme, tom } = await acmeWithTom(target, owners);
            const ok = works(() => updateMember(db, acme, actor, tom, role));
            cases.push(`${ownerCount} owner(s): ${actor} sets ${target} to ${role}: ${offered.roles.includes(role)} offered, ${ok} done`);
          }
          const { db, acme, tom } = await acmeWithTom(target, owners);
          const ok = works(() => removeMember(db, acme, actor, tom));
          cases.push(`${ownerCount} owner(s): ${actor} removes ${target}: ${offered.removable} offered, ${ok} done`);
        }
      }
    }
    expect(cases.length).toBe(2 * 2 * 4 * 5);
    expect(cases.filter((c) => !/: (true offered, true done|false offered, false done)$/.test(c))).toEqual([]);
    // Both answers occur, so the comparison above could fail.
    expect(cases.some((c) => c.endsWith("true done")) && cases.some((c) => c.endsWith("false done"))).toBe(true);
  });

  test("removeMember answers who was removed", async () => {
    const { db, acme, tom } = await acmeWithTom("viewer", 1);
    expect(removeMember(db, acme, "admin", tom)).toMatchObject({ user_id: tom, email: "tom@example.com", role: "viewer" });
    expect(listMembers(db, acme).map((m) => m.email)).toEqual(["olga@example.com"]);
  });
});
