// Enrollment: an operator makes an enrollment token (cte_…); a host enrolls with it and gets
// its own agent token (cta_…), which it then speaks the agent protocol with.
import type { Db } from "../db";
import { Invalid, NotFound, Unauthorized } from "../errors";
import { newId, newToken, sha256 } from "../tokens";
import { checkLength, LIMITS } from "../limits";
import { eventHub } from "../events/hub";
import { findEnrollmentTokenByToken } from "./crosstenant";
import { checkName, findAgentByMachine, getAgent, nameFree, readLabels } from "./registry";
import { enrollmentTokenSpent, offlineDeadline, parseLabels, toEnrollmentToken, type Agent, type EnrollmentToken, type EnrollmentTokenRow } from "./model";

export interface CreateEnrollmentTokenInput {
  name: string;
  labels?: Record<string, string>;
  max_uses?: number;
  expires_in_days?: number;
}

/** Makes an enrollment token; its secret (`token`) is returned this once. */
export function createEnrollmentToken(
  db: Db,
  tenantId: string,
  userId: string | null,
  input: CreateEnrollmentTokenInput,
  now: number,
): { token: string; enrollment_token: EnrollmentToken } {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new Invalid("name", "must be 1 to 100 characters");
  const labels = readLabels("labels", input.labels);
  if (input.max_uses !== undefined && !(Number.isInteger(input.max_uses) && input.max_uses >= 1)) throw new Invalid("max_uses", "must be a whole number of at least 1");
  if (input.expires_in_days !== undefined && !(input.expires_in_days > 0 && input.expires_in_days <= 3650)) {
    throw new Invalid("expires_in_days", "must be between 1 and 3650");
  }
  const token = newToken("cte_");
  const id = newId();
  db.query(
    `INSERT INTO enrollment_tokens (id, tenant_id, name, token_hash, prefix, labels, max_uses, expires_at, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    tenantId,
    name,
    sha256(token),
    token.slice(0, 8),
    JSON.stringify(labels),
    input.max_uses ?? null,
    input.expires_in_days ? now + input.expires_in_days * 86_400_000 : null,
    userId,
    now,
  );
  return { token, enrollment_token: getEnrollmentToken(db, tenantId, id, now) };
}

export function getEnrollmentToken(db: Db, tenantId: string, id: string, now: number): EnrollmentToken {
  const r = db.query<EnrollmentTokenRow, [string, string]>("SELECT * FROM enrollment_tokens WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!r) throw new NotFound(`enrollment token ${id}`);
  return toEnrollmentToken(r, now);
}

export function listEnrollmentTokens(db: Db, tenantId: string, now: number): EnrollmentToken[] {
  return db
    .query<EnrollmentTokenRow, [string]>("SELECT * FROM enrollment_tokens WHERE tenant_id = ? ORDER BY created_at")
    .all(tenantId)
    .map((r) => toEnrollmentToken(r, now));
}

/** Revoking a token stops new enrollments with it; agents already enrolled keep their own tokens. */
export function revokeEnrollmentToken(db: Db, tenantId: string, id: string): void {
  const res = db.query("DELETE FROM enrollment_tokens WHERE tenant_id = ? AND id = ?").run(tenantId, id);
  if (res.changes === 0) throw new NotFound(`enrollment token ${id}`);
}

export interface EnrollInput {
  token: string;
  hostname: string;
  name?: string;
  platform: string;
  arch: string;
  os_version?: string;
  scheduler: string;
  version?: string;
  machine_id: string;
  labels?: Record<string, string>;
}

/**
 * Enrolls a host with an enrollment token and returns its agent token (cta_…, shown once).
 * The same machine enrolling again in the same tenant keeps its agent record (and its job
 * instances) and gets a new token; the old one stops working at once.
 */
export function enroll(db: Db, input: EnrollInput, intervalS: number, now: number): { agent: Agent; token: string; created: boolean } {
  const t = findEnrollmentTokenByToken(db, input.token);
  const spent = t && enrollmentTokenSpent(t, now);
  if (!t || spent === "expired") throw new Unauthorized("invalid or expired enrollment token");
  if (spent === "used up") throw new Unauthorized("this enrollment token has been used up");
  const hostname = input.hostname.trim();
  if (!hostname || hostname.length > 253 || /[\s\0]/.test(hostname)) throw new Invalid("hostname", "must be a host name without spaces");
  checkLength("platform", input.platform, LIMITS.shortText);
  checkLength("arch", input.arch, LIMITS.shortText);
  checkLength("scheduler", input.scheduler, LIMITS.shortText);
  checkLength("version", input.version, LIMITS.shortText);
  checkLength("os_version", input.os_version, LIMITS.osVersion);
  if (!/^[A-Za-z0-9._:{}-]{1,128}$/.test(input.machine_id)) throw new Invalid("machine_id", "must be 1 to 128 letters, digits or '.', '_', ':', '-', '{', '}'");
  const token = newToken("cta_");
  const tenant = t.tenant_id;
  const existing = findAgentByMachine(db, tenant, input.machine_id);
  // Enrolling again keeps what an operator set since (name, labels by PATCH) unless given anew.
  const name = checkName("name", input.name?.trim() || existing?.name || hostname.split(".")[0]!);
  const labels = { ...parseLabels(t.labels), ...existing?.labels, ...readLabels("labels", input.labels) };
  const id = existing?.id ?? newId();
  const fields = {
    id,
    tenant,
    name,
    hostname,
    platform: input.platform,
    arch: input.arch,
    os_version: input.os_version ?? null,
    scheduler: input.scheduler,
    version: input.version ?? null,
    labels: JSON.stringify(labels),
    token_hash: sha256(token),
    enrolled_with: t.id,
    deadline: offlineDeadline(now, intervalS),
    now,
  };
  db.transaction(() => {
    if (existing) {
      if (existing.name !== name) nameFree(db, tenant, name, id);
      db.query(
        `UPDATE agents SET name = $name, hostname = $hostname, platform = $platform, arch = $arch, os_version = $os_version,
           scheduler = $scheduler, version = $version, labels = $labels, token_hash = $token_hash, enrolled_with = $enrolled_with,
           last_seen_at = $now, next_deadline = $deadline, updated_at = $now
         WHERE tenant_id = $tenant AND id = $id`,
      ).run(fields);
    } else {
      nameFree(db, tenant, name, id);
      db.query(
        `INSERT INTO agents (id, tenant_id, name, hostname, machine_id, platform, arch, os_version, scheduler, version, labels,
           token_hash, enrolled_with, status, status_since, interval_s, last_seen_at, next_deadline, created_at, updated_at)
         VALUES ($id, $tenant, $name, $hostname, $machine_id, $platform, $arch, $os_version, $scheduler, $version, $labels,
           $token_hash, $enrolled_with, 'online', $now, $interval, $now, $deadline, $now, $now)`,
      ).run({ ...fields, machine_id: input.machine_id, interval: intervalS });
    }
    db.query("UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = ? WHERE tenant_id = ? AND id = ?").run(now, tenant, t.id);
  })();
  eventHub(db).agent(tenant, id);
  return { agent: getAgent(db, tenant, id), token, created: !existing };
}
