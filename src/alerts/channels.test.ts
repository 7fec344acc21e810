// Channel rules at the service: names, tenants, replacing configs without knowing their secrets.
import { beforeEach, describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { Conflict, Invalid, NotFound } from "../errors";
import { channelJson, createChannel, deleteChannel, findChannelsByName, getChannel, listChannels, readChannelConfig, updateChannel, type ChannelDeps } from "./channels";
import { openSecretBox } from "../secrets";
import { tempDir } from "../../test/helpers";
import { join } from "node:path";

const T0 = Date.UTC(2026, 10, 3, 9, 0);
let db: Db;
let acme: string;
let globex: string;
const deps: ChannelDeps = { secrets: openSecretBox(join(tempDir(), "secret.key")) };

beforeEach(() => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null, T0).id;
  globex = createTenant(db, { slug: "globex" }, null, T0).id;
});

const slack = (name: string) => ({ name, type: "slack", config: { url: `https://hooks.slack.com/services/T0/B0/${name}` } });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof Invalid) return e.field;
    throw e;
  }
  throw new Error("expected a validation error");
}

describe("creating", () => {
  test("stores the validated config and lists the tenant's channels by name, secrets masked", () => {
    const ops = createChannel(db, deps, acme, slack("ops"), T0);
    createChannel(db, deps, acme, { name: "oncall", type: "email", config: { to: "oncall@acme.test" } }, T0);
    createChannel(db, deps, globex, slack("globex-ops"), T0);
    expect(listChannels(db, acme).map((c) => [c.name, c.type, c.config])).toEqual([
      ["oncall", "email", { to: ["oncall@acme.test"] }],
      ["ops", "slack", { url: "https://hooks.slack.com/****" }],
    ]);
    expect(readChannelConfig(db, deps.secrets, acme, ops.id)).toEqual({ url: "https://hooks.slack.com/services/T0/B0/ops" });
  });

  test("a name is unique in its tenant, not across tenants", () => {
    createChannel(db, deps, acme, slack("ops"), T0);
    expect(() => createChannel(db, deps, acme, slack("ops"), T0)).toThrow(Conflict);
    expect(createChannel(db, deps, globex, slack("ops"), T0).name).toBe("ops");
  });

  test("names follow the job-name pattern; bad configs name their field", () => {
    expect(fieldOf(() => createChannel(db, deps, acme, slack("Ops Team"), T0))).toBe("name");
    expect(fieldOf(() => createChannel(db, deps, acme, { name: "x", type: "pager", config: {} }, T0))).toBe("type");
    expect(fieldOf(() => createChannel(db, deps, acme, { name: "x", type: "webhook", config: { url: "file:///etc/passwd" } }, T0))).toBe("config.url");
    expect(listChannels(db, acme)).toEqual([]);
  });

  test("the API form masks secrets", () => {
    const c = createChannel(db, deps, acme, { name: "pd", type: "pagerduty", config: { routing_key: "R0UTINGKEY0123" } }, T0);
    expect(channelJson(c)).toEqual({
      id: c.id,
      name: "pd",
      type: "pagerduty",
      config: { routing_key: "********" },
      created_at: new Date(T0).toISOString(),
      updated_at: new Date(T0).toISOString(),
    });
    // A Slack webhook's path is its secret.
    const s = createChannel(db, deps, acme, { name: "slack", type: "slack", config: { url: "https://hooks.slack.com/services/T0/B0/XyZ" } }, T0);
    expect(channelJson(s).config).toEqual({ url: "https://hooks.slack.com/****" });
  });
});

describe("another tenant's channel", () => {
  test("cannot be read, replaced or deleted: it does not exist", () => {
    const c = createChannel(db, deps, acme, slack("ops"), T0);
    expect(() => getChannel(db, globex, c.id)).toThrow(NotFound);
    expect(() => updateChannel(db, deps, globex, c.id, slack("mine"), T0)).toThrow(NotFound);
    expect(() => deleteChannel(db, globex, c.id)).toThrow(NotFound);
    expect(getChannel(db, acme, c.id).name).toBe("ops");
  });
});

describe("replacing", () => {
  test("replaces name, type and config", () => {
    const c = createChannel(db, deps, acme, slack("ops"), T0);
    const u = updateChannel(db, deps, acme, c.id, { name: "ops-ntfy", type: "ntfy", config: { url: "https://ntfy.sh/acme-ops" } }, T0 + 1000);
    expect(u).toMatchObject({ id: c.id, name: "ops-ntfy", type: "ntfy", config: { url: "https://ntfy.sh/****" }, created_at: T0, updated_at: T0 + 1000 });
    expect(readChannelConfig(db, deps.secrets, acme, c.id)).toEqual({ url: "https://ntfy.sh/acme-ops" });
  });

  test("sending back the masked config keeps the stored secrets", () => {
    const c = createChannel(db, deps, acme, { name: "hook", type: "webhook", config: { url: "https://x.test/hook", secret: "s3cret" } }, T0);
    const shown = channelJson(c);
    const u = updateChannel(db, deps, acme, c.id, { name: "hook", type: shown.type, config: { ...shown.config, url: "https://y.test/hook" } }, T0);
    expect(u.config).toEqual({ url: "https://y.test/hook", secret: "********" });
    expect(readChannelConfig(db, deps.secrets, acme, c.id)).toEqual({ url: "https://y.test/hook", secret: "s3cret" });
  });

  test("renaming onto another channel's name is a conflict", () => {
    createChannel(db, deps, acme, slack("ops"), T0);
    const c = createChannel(db, deps, acme, slack("dev"), T0);
    expect(() => updateChannel(db, deps, acme, c.id, slack("ops"), T0)).toThrow(Conflict);
    expect(updateChannel(db, deps, acme, c.id, slack("dev"), T0).name).toBe("dev");
  });
});

describe("findChannelsByName", () => {
  test("null means all the tenant's channels; names pick some and skip unknown ones", () => {
    for (const n of ["ops", "dev", "oncall"]) createChannel(db, deps, acme, slack(n), T0);
    createChannel(db, deps, globex, slack("ops-globex"), T0);
    expect(findChannelsByName(db, acme, null).map((c) => c.name)).toEqual(["dev", "oncall", "ops"]);
    expect(findChannelsByName(db, acme, ["ops", "nope", "ops-globex"]).map((c) => c.name)).toEqual(["ops"]);
    expect(findChannelsByName(db, acme, [])).toEqual([]);
  });
});
