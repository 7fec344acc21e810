// Alert channels: the rules and the SQL. Every function takes the tenant id first.
// A channel's config is stored twice: masked in `config` (what every read shows) and whole in
// `sealed`, encrypted with the server's key file; only sending and editing decrypt it.
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import type { SecretBox } from "../secrets";
import { newId } from "../tokens";
import { maskConfig, unmaskConfig, validateChannel, type ChannelConfig, type ChannelType } from "./senders";
import { isoTime } from "../time";

export interface Channel {
  id: string;
  tenant_id: string;
  name: string;
  type: ChannelType;
  /** The config with its secrets masked, as the API shows it. */
  config: ChannelConfig;
  created_at: number;
  updated_at: number;
}

/** What writing a channel needs: the key to seal its config, and whether internal targets are allowed. */
export interface ChannelDeps {
  secrets: SecretBox;
  allowPrivateTargets?: boolean;
}

interface ChannelRow extends Omit<Channel, "config"> {
  config: string;
  sealed: string | null;
}

const COLUMNS = "id, tenant_id, name, type, config, created_at, updated_at";

export interface ChannelInput {
  name: string;
  type: string;
  config: unknown;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const toChannel = (r: Omit<ChannelRow, "sealed">): Channel => ({ ...r, config: JSON.parse(r.config) as ChannelConfig });

/** The whole config of a stored channel, decrypted: for sending it, nothing else. */
export function openChannelConfig(secrets: SecretBox, row: { config: string; sealed: string | null }): ChannelConfig {
  // A row not sealed yet (written before 0007, before the start-up pass) still holds plaintext.
  return JSON.parse(row.sealed === null ? row.config : secrets.decrypt(row.sealed)) as ChannelConfig;
}

/** The whole config of a tenant's channel, decrypted. */
export function readChannelConfig(db: Db, secrets: SecretBox, tenantId: string, id: string): ChannelConfig {
  const r = db.query<ChannelRow, [string, string]>("SELECT config, sealed FROM channels WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!r) throw new NotFound("channel");
  return openChannelConfig(secrets, r);
}

/**
 * Encrypts the configs stored in plaintext (rows from before migration 0007). Idempotent: run at
 * every start; returns how many rows it sealed.
 */
export function sealChannelSecrets(db: Db, secrets: SecretBox): number {
  // cross-tenant: every tenant's plaintext rows, once at start.
  const rows = db.query<{ id: string; type: string; config: string }, []>("SELECT id, type, config FROM channels WHERE sealed IS NULL").all();
  if (rows.length === 0) return 0;
  db.transaction(() => {
    for (const r of rows) {
      const config = JSON.parse(r.config) as ChannelConfig;
      // cross-tenant: the rows read above.
      db.query("UPDATE channels SET config = $masked, sealed = $sealed WHERE id = $id AND sealed IS NULL").run({
        id: r.id,
        masked: JSON.stringify(maskConfig(r.type, config)),
        sealed: secrets.encrypt(r.config),
      });
    }
  })();
  return rows.length;
}

/** The channel as the API returns it: secrets masked. */
export function channelJson(c: Channel) {
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    // Masked again: a row not yet sealed at start-up still holds its plaintext.
    config: maskConfig(c.type, c.config),
    created_at: isoTime(c.created_at),
    updated_at: isoTime(c.updated_at),
  };
}

function checkName(name: string): string {
  if (name.length > 63 || !NAME_RE.test(name)) {
    throw new Invalid("name", `must be 1-63 lower-case letters, digits or "-", starting and ending with a letter or digit (got ${JSON.stringify(name)})`);
  }
  return name;
}

export function listChannels(db: Db, tenantId: string): Channel[] {
  return db.query<ChannelRow, [string]>(`SELECT ${COLUMNS} FROM channels WHERE tenant_id = ? ORDER BY name`).all(tenantId).map(toChannel);
}

export function findChannel(db: Db, tenantId: string, id: string): Channel | null {
  const r = db.query<ChannelRow, [string, string]>(`SELECT ${COLUMNS} FROM channels WHERE tenant_id = ? AND id = ?`).get(tenantId, id);
  return r ? toChannel(r) : null;
}

export function getChannel(db: Db, tenantId: string, id: string): Channel {
  const c = findChannel(db, tenantId, id);
  if (!c) throw new NotFound("channel");
  return c;
}

function findChannelIdByName(db: Db, tenantId: string, name: string): string | null {
  return db.query<{ id: string }, [string, string]>("SELECT id FROM channels WHERE tenant_id = ? AND name = ?").get(tenantId, name)?.id ?? null;
}

/** The channels a job alerts: the named ones (unknown names are skipped), or all of the tenant's for null. */
export function findChannelsByName(db: Db, tenantId: string, names: string[] | null): Channel[] {
  if (names === null) return listChannels(db, tenantId);
  return db
    .query<ChannelRow, [string, string]>(`SELECT ${COLUMNS} FROM channels WHERE tenant_id = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name`)
    .all(tenantId, JSON.stringify(names))
    .map(toChannel);
}

export function createChannel(db: Db, deps: ChannelDeps, tenantId: string, input: ChannelInput, now: number): Channel {
  const name = checkName(input.name);
  const { type, config } = validateChannel(input.type, input.config, deps);
  return db.transaction(() => {
    if (findChannelIdByName(db, tenantId, name)) throw new Conflict(`channel ${name} already exists`);
    const id = newId();
    db.query(
      `INSERT INTO channels (id, tenant_id, name, type, config, sealed, created_at, updated_at)
       VALUES ($id, $tenant, $name, $type, $masked, $sealed, $now, $now)`,
    ).run({ id, tenant: tenantId, name, type, ...stored(deps.secrets, type, config), now });
    return getChannel(db, tenantId, id);
  })();
}

function stored(secrets: SecretBox, type: ChannelType, config: ChannelConfig) {
  return { masked: JSON.stringify(maskConfig(type, config)), sealed: secrets.encrypt(JSON.stringify(config)) };
}

/**
 * PUT: replaces name, type and config. Values sent back exactly as GET masked them keep the
 * stored secret (when the type is unchanged), so a client never needs to know the secret to edit.
 */
export function updateChannel(db: Db, deps: ChannelDeps, tenantId: string, id: string, input: ChannelInput, now: number): Channel {
  const name = checkName(input.name);
  return db.transaction(() => {
    const existing = getChannel(db, tenantId, id);
    const incoming =
      input.type === existing.type ? unmaskConfig(existing.type, input.config, readChannelConfig(db, deps.secrets, tenantId, id)) : input.config;
    const { type, config } = validateChannel(input.type, incoming, deps);
    const other = findChannelIdByName(db, tenantId, name);
    if (other && other !== id) throw new Conflict(`channel ${name} already exists`);
    db.query(
      `UPDATE channels SET name = $name, type = $type, config = $masked, sealed = $sealed, updated_at = $now
       WHERE tenant_id = $tenant AND id = $id`,
    ).run({ name, type, ...stored(deps.secrets, type, config), now, tenant: tenantId, id });
    return getChannel(db, tenantId, id);
  })();
}

/** Deletes the channel and, with it, its queued and past notifications. */
export function deleteChannel(db: Db, tenantId: string, id: string): void {
  const res = db.query("DELETE FROM channels WHERE tenant_id = ? AND id = ?").run(tenantId, id);
  if (res.changes === 0) throw new NotFound("channel");
}
