// Users and passwords: rules and SQL. (Tenants and memberships: src/tenants/.)
import type { Db } from "../db";
import { Conflict, Invalid, NotFound, Unauthorized } from "../errors";
import { newId } from "../tokens";
import { checkLength, LIMITS } from "../limits";

export interface User {
  id: string;
  email: string;
  name: string;
  is_operator: boolean;
  created_at: number;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

type UserRow = Omit<User, "is_operator"> & { is_operator: number; password_hash: string };

const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  is_operator: r.is_operator === 1,
  created_at: r.created_at,
});

export async function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

export async function createUser(
  db: Db,
  input: { email: string; password: string; name?: string; isOperator?: boolean },
  now = Date.now(),
): Promise<User> {
  const email = checkEmail("email", input.email);
  if (input.password.length < 8) throw new Invalid("password", "must be at least 8 characters");
  checkLength("password", input.password, LIMITS.password);
  checkLength("name", input.name, LIMITS.name);
  if (findUserByEmail(db, email)) throw new Conflict(`a user with email ${email} already exists`);
  const hash = await hashPassword(input.password);
  const id = newId();
  db.query(
    "INSERT INTO users (id, email, name, password_hash, is_operator, created_at) VALUES ($id, $email, $name, $hash, $op, $now)",
  ).run({ id, email, name: input.name ?? "", hash, op: input.isOperator ? 1 : 0, now });
  return getUser(db, id);
}

/** The address, trimmed, if it looks like one and fits (254 characters); otherwise Invalid naming `field`. */
export function checkEmail(field: string, email: string): string {
  const trimmed = checkLength(field, email.trim(), LIMITS.email);
  if (!EMAIL_RE.test(trimmed)) throw new Invalid(field, "is not an email address");
  return trimmed;
}

/** How an e-mail address is looked up and rate-limited: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function findUserByEmail(db: Db, email: string): User | null {
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ?").get(email.trim());
  return r ? toUser(r) : null;
}

export function getUser(db: Db, id: string): User {
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE id = ?").get(id);
  if (!r) throw new NotFound("user");
  return toUser(r);
}

export async function setUserPassword(db: Db, userId: string, password: string): Promise<void> {
  if (password.length < 8) throw new Invalid("password", "must be at least 8 characters");
  checkLength("password", password, LIMITS.password);
  db.query("UPDATE users SET password_hash = ? WHERE id = ?").run(await hashPassword(password), userId);
}

export function setOperator(db: Db, userId: string, isOperator: boolean): void {
  db.query("UPDATE users SET is_operator = ? WHERE id = ?").run(isOperator ? 1 : 0, userId);
}

// A fixed argon2id hash, verified when the email is unknown so both failures cost the same time.
let dummyHash: Promise<string> | null = null;

/** Checks a login. Unknown email and wrong password fail alike, in about the same time. */
export async function verifyLogin(db: Db, email: string, password: string): Promise<User> {
  // users.email is COLLATE NOCASE, so the lower-cased address finds the row however it was written.
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ?").get(normalizeEmail(email));
  if (!r) {
    dummyHash ??= hashPassword("crontopus-timing-equaliser");
    await Bun.password.verify(password, await dummyHash);
    throw new Unauthorized("invalid email or password");
  }
  if (!(await Bun.password.verify(password, r.password_hash))) throw new Unauthorized("invalid email or password");
  return toUser(r);
}
