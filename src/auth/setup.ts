// First run: a server with no user gives out one setup link (printed by `serve`), which creates the
// first owner and their tenant. The link works once, and not at all once any user exists, however
// that user was made (the console's setup, `crontopus admin create-user` on the data directory).
import { timingSafeEqual } from "node:crypto";
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { randomSecret } from "../tokens";
import { checkSlug, createTenant, findTenant, type Tenant } from "../tenants/tenants";
import { checkNewUser, hasUsers, hashPassword, insertUser, type User } from "./identity";

export interface SetupInput {
  token: string;
  email: string;
  password: string;
  name?: string;
  /** The first tenant's slug, and its name (the slug when empty). */
  tenant: string;
  tenantName?: string;
}

/** The path of the setup page for a token; `serve` prints it after the base URL. */
export const setupPath = (token: string) => `/setup?token=${encodeURIComponent(token)}`;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The one setup token of this process, kept in memory only: a restart of a server that still has
 * no user gives out a new link, and the old one stops working.
 */
export class FirstRun {
  private token: string | null = null;

  /** A new one-time setup token when the server has no user (any earlier one stops working); null when it has. */
  open(db: Db): string | null {
    this.token = hasUsers(db) ? null : randomSecret(24);
    return this.token;
  }

  /** Whether `token` opens the setup now: it is the token given out, unused, and the server still has no user. */
  admits(db: Db, token: string | null | undefined): boolean {
    if (!this.token || !token || !sameSecret(token, this.token)) return false;
    if (hasUsers(db)) {
      this.token = null;
      return false;
    }
    return true;
  }

  /**
   * Creates the first user as owner of a new tenant, in one transaction, and spends the token.
   * Refused (NotFound) with a wrong or spent token, or once any user exists.
   */
  async complete(db: Db, input: SetupInput, now: number): Promise<{ user: User; tenant: Tenant }> {
    if (!this.admits(db, input.token)) throw new NotFound("setup link");
    const user = checkNewUser(db, { email: input.email, password: input.password, name: input.name });
    const slug = checkSlug("tenant", input.tenant.trim());
    if (findTenant(db, slug)) throw new Invalid("tenant", `${slug} is taken`);
    const hash = await hashPassword(input.password);
    return db.transaction(() => {
      // Another setup, or an admin create-user, may have made a user while the password was hashed.
      if (hasUsers(db) || !this.admits(db, input.token)) throw new Conflict("the server has a user now: sign in instead");
      const created = insertUser(db, user, hash, now);
      const tenant = createTenant(db, { slug, name: input.tenantName?.trim() || slug }, created.id, now);
      this.token = null;
      return { user: created, tenant };
    })();
  }
}
