// Cross-tenant on purpose: the only queries of the agents feature that do not name a tenant.
// A secret token (an agent's cta_…, an enrollment token's cte_…) is unique across tenants and
// tells which tenant it belongs to; the engine's deadline sweep looks at every tenant's agents.
// Everything these return carries its tenant_id, and whatever follows is scoped by it.
import type { Db } from "../db";
import { sha256 } from "../tokens";
import { toAgent, type Agent, type AgentRow, type EnrollmentTokenRow } from "./model";

/** The agent behind a `cta_` token, or null. */
export function authenticateAgent(db: Db, token: string): Agent | null {
  if (!token.startsWith("cta_")) return null;
  const r = db.query<AgentRow, [string]>("SELECT * FROM agents WHERE token_hash = ?").get(sha256(token));
  return r ? toAgent(r) : null;
}

/** The enrollment token whose secret this is, or null. */
export function findEnrollmentTokenByToken(db: Db, token: string): EnrollmentTokenRow | null {
  return db.query<EnrollmentTokenRow, [string]>("SELECT * FROM enrollment_tokens WHERE token_hash = ?").get(sha256(token));
}

/** Online agents of every tenant whose offline deadline has passed, the earliest first. */
export function dueAgentsAllTenants(db: Db, now: number, limit: number): Agent[] {
  return db
    .query<AgentRow, [number, number]>("SELECT * FROM agents WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline LIMIT ?")
    .all(now, limit)
    .map(toAgent);
}
