// Alert channels: the rules and the SQL. Every function takes the tenant id first.
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { newId } from "../tokens";
import { maskConfig, unmaskConfig, validateChannel, type ChannelConfig, type ChannelType } from "./senders";

export interface Channel {
  id: string;
  tenant_id: string;
  name: string;
  type: ChannelType;
  config: ChannelConfig;
  created_at: number;
  updated_at: number;
}

interface ChannelRow extends Omit<Channel, "config"> {
  config: string;
}

export interface ChannelInput {
  name: string;
  type: string;
  config: unknown;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const toChannel = (r: ChannelRow): Channel => ({ ...r, config: JSON.parse(r.config) as ChannelConfig });

/** The channel as the API returns it: secrets masked. */
export function channelJson(c: Channel) {
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    config: maskConfig(c.type, c.config),
    created_at: new Date(c.created_at).toISOString(),
    updated_at: new Date(c.updated_at).toISOString(),
  };
}

function checkName(name: string): string {
  if (name.length > 63 || !NAME_RE.test(name)) {
    throw new Invalid("name", `must be 1-63 lower-case letters, digits or "-", starting and ending with a letter or digit (got ${JSON.stringify(name)})`);
  }
  return name;
}

export function listChannels(db: Db, tenantId: string): Channel[] {
  return db.query<ChannelRow, [string]>("SELECT * FROM channels WHERE tenant_id = ? ORDER BY name").all(tenantId).map(toChannel);
}

export function findChannel(db: Db, tenantId: string, id: string): Channel | null {
  const r = db.query<ChannelRow, [string, string]>("SELECT * FROM channels WHERE tenant_id = ? AND id = ?").get(tenantId, id);
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
    .query<ChannelRow, [string, string]>("SELECT * FROM channels WHERE tenant_id = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name")
    .all(tenantId, JSON.stringify(names))
    .map(toChannel);
}

export function createChannel(db: Db, tenantId: string, input: ChannelInput, now: number): Channel {
  const name = checkName(input.name);
  const { type, config } = validateChannel(input.type, input.config);
  return db.transaction(() => {
    if (findChannelIdByName(db, tenantId, name)) throw new Conflict(`channel ${name} already exists`);
    const id = newId();
    db.query(
      `INSERT INTO channels (id, tenant_id, name, type, config, created_at, updated_at)
       VALUES ($id, $tenant, $name, $type, $config, $now, $now)`,
    ).run({ id, tenant: tenantId, name, type, config: JSON.stringify(config), now });
    return getChannel(db, tenantId, id);
  })();
}

/**
 * PUT: replaces name, type and config. Values sent back exactly as GET masked them keep the
 * stored secret (when the type is unchanged), so a client never needs to know the secret to edit.
 */
export function updateChannel(db: Db, tenantId: string, id: string, input: ChannelInput, now: number): Channel {
  const name = checkName(input.name);
  return db.transaction(() => {
    const existing = getChannel(db, tenantId, id);
    const incoming = input.type === existing.type ? unmaskConfig(existing.type, input.config, existing.config) : input.config;
    const { type, config } = validateChannel(input.type, incoming);
    const other = findChannelIdByName(db, tenantId, name);
    if (other && other !== id) throw new Conflict(`channel ${name} already exists`);
    db.query(
      "UPDATE channels SET name = $name, type = $type, config = $config, updated_at = $now WHERE tenant_id = $tenant AND id = $id",
    ).run({ name, type, config: JSON.stringify(config), now, tenant: tenantId, id });
    return getChannel(db, tenantId, id);
  })();
}

/** Deletes the channel and, with it, its queued and past notifications. */
export function deleteChannel(db: Db, tenantId: string, id: string): void {
  const res = db.query("DELETE FROM channels WHERE tenant_id = ? AND id = ?").run(tenantId, id);
  if (res.changes === 0) throw new NotFound("channel");
}
