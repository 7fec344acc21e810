// What a person reads when a request is wrong: every route, every kind of bad input, walked
// from the API document, so that a new route is covered by being added to the app.
import { beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../src/config";
import { migrate, openDb } from "../src/db";
import { createApp, createContext } from "../src/app";
import { explain } from "../src/validation";
import { persona, tempDir, type Persona } from "./helpers";

type Json = Record<string, any>;
let app: ReturnType<typeof createApp>;
let alice: Persona;
let doc: Json;

beforeAll(async () => {
  const db = openDb(":memory:");
  migrate(db);
  app = createApp(createContext(db, loadConfig({ CRONTOPUS_DATA_DIR: tempDir(), CRONTOPUS_LOG_LEVEL: "silent" })));
  alice = await persona(db, "alice", "acme", "owner");
  doc = (await (await app.handle(new Request("http://localhost/api/openapi.json"))).json()) as Json;
});

function send(method: string, path: string, body?: string, contentType = "application/json") {
  const headers: Record<string, string> = { authorization: `Bearer ${alice.token}` };
  if (body !== undefined) headers["content-type"] = contentType;
  return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
}

// Phrases of the validator's own wording that must never reach a person.
const JARGON = /should be one of|'string'|'integer'|got a undefined|^property:|Expected (property|union|string|integer)|found: undefined|Property '/;

interface Case {
  what: string;
  method: string;
  path: string;
  body?: string;
  field: string;
}

/** A wrong value for a schema: the other type, or a word outside its choices. */
function wrongValue(schema: Json): unknown {
  if (schema.enum || schema.const !== undefined || schema.anyOf?.every((b: Json) => b.const !== undefined)) return "bogus";
  switch (schema.type) {
    case "string":
      return 12;
    case "integer":
    case "number":
      return "abc";
    case "boolean":
      return "maybe";
    case "array":
      return "not-a-list";
    case "object":
      return ["not", "an", "object"];
  }
  return null;
}

/** A value that satisfies a schema, to fill the other required fields. */
function goodValue(schema: Json): unknown {
  if (schema.enum) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.anyOf) return goodValue(schema.anyOf[0]);
  switch (schema.type) {
    case "string":
      return "x".repeat(Math.max(schema.minLength ?? 1, 3));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return Object.fromEntries((schema.required ?? []).map((k: string) => [k, goodValue(schema.properties[k])]));
  }
  return "x";
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [template, item] of Object.entries(doc.paths as Json)) {
    if (!template.startsWith("/api/v1/")) continue;
    const path = template.replace(/\{[^}]+\}/g, "x");
    for (const [method, op] of Object.entries(item as Json)) {
      const M = method.toUpperCase();
      const schema = op.requestBody?.content?.["application/json"]?.schema as Json | undefined;
      // The job routes read manifests themselves: their messages are tested below.
      if (schema?.type === "object" && op.parse === undefined) {
        const good = goodValue(schema) as Json;
        if ((schema.required ?? []).length) out.push({ what: `${M} ${template}: a list for a body`, method: M, path, body: "[1, 2]", field: "body|" + schema.required[0] });
        for (const key of schema.required ?? []) {
          const { [key]: _, ...rest } = good;
          out.push({ what: `${M} ${template}: no ${key}`, method: M, path, body: JSON.stringify(rest), field: key });
        }
        for (const [key, sub] of Object.entries(schema.properties ?? {}) as [string, Json][]) {
          // Maps (labels, config) are checked by their services after the lookup (part 6 of issue 10, tested there).
          if (sub.patternProperties || (sub.type === "object" && sub.additionalProperties && !sub.properties)) continue;
          const bad = wrongValue(sub);
          if (bad === null) continue;
          out.push({ what: `${M} ${template}: ${key} = ${JSON.stringify(bad)}`, method: M, path, body: JSON.stringify({ ...good, [key]: bad }), field: key });
        }
      }
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.in !== "query") continue;
        const bad = p.schema.type === "integer" ? ["abc", String((p.schema.maximum ?? 10) + 1), "0"] : p.schema.type === "boolean" ? ["maybe"] : p.schema.enum ? ["bogus"] : [];
        for (const v of bad) out.push({ what: `${M} ${template}?${p.name}=${v}`, method: M, path: `${path}?${p.name}=${encodeURIComponent(v)}`, field: p.name });
      }
    }
  }
  return out;
}

describe("validation messages over every route", () => {
  test("name the field and say what it must be, in plain words", async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(80);
    const wrong: string[] = [];
    for (const c of all) {
      const r = await send(c.method, c.path, c.body);
      const body = (await r.json()) as { error?: { code: string; message: string; details?: { field: string }[] } };
      const msg = body.error?.message ?? "";
      // A list for an object body: "body: must be an object", or its first field is required.
      const named = c.field.split("|").some((f) => msg.startsWith(`${f}: `));
      if (r.status !== 422 || !named || JARGON.test(msg) || /\bundefined\b/.test(msg)) {
        wrong.push(`${c.what} -> ${r.status} ${msg}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 60_000);

  test("a bad scope is named with the scopes there are", async () => {
    const r = await send("POST", "/api/v1/tokens", JSON.stringify({ name: "ci", scopes: ["read", "sudo"] }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as Json).error.message).toBe("scopes: must be read, write or admin");
  });

  test("a number out of range in a query says the range", async () => {
    const r = await send("GET", "/api/v1/runs?limit=0");
    expect(((await r.json()) as Json).error.message).toBe("limit: must be from 1 to 500");
  });

  test("a body that is no JSON says so", async () => {
    const r = await send("POST", "/api/v1/tokens", "{name:");
    expect(r.status).toBe(400);
    expect(((await r.json()) as Json).error.message).toBe("body: is not valid JSON");
  });
});

describe("job manifests, whatever curl says they are", () => {
  const manifest = (name: string) => `apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  schedule: "30 2 * * *"\n`;

  test("a YAML manifest sent as a form (curl --data-binary) is read as YAML", async () => {
    const r = await send("PUT", "/api/v1/jobs/default/nightly", manifest("nightly"), "application/x-www-form-urlencoded");
    expect(r.status).toBe(201);
    expect(((await r.json()) as Json).schedule).toBe("30 2 * * *");
  });

  test("JSON with no Content-Type, and with text/plain, is read as JSON", async () => {
    const r = await app.handle(
      new Request("http://localhost/api/v1/jobs", { method: "POST", headers: { authorization: `Bearer ${alice.token}` }, body: JSON.stringify({ name: "bare", schedule: "@daily" }) }),
    );
    expect(r.status).toBe(201);
    const plain = await send("PUT", "/api/v1/jobs/default/plain", JSON.stringify({ schedule: "@hourly" }), "text/plain");
    expect(plain.status).toBe(201);
  });

  test("a type that cannot hold a manifest is refused with 415 naming the accepted ones", async () => {
    const r = await send("PUT", "/api/v1/jobs/default/form", "--x\r\n", "multipart/form-data; boundary=x");
    expect(r.status).toBe(415);
    const e = ((await r.json()) as Json).error;
    expect(e.code).toBe("unsupported_media_type");
    expect(e.message).toContain("application/json");
    expect(e.message).toContain("application/yaml");
  });

  test("a JSON syntax error gives its line, and an env entry without a name says it is required", async () => {
    const bad = await send("POST", "/api/v1/jobs", '{"name": "a",\n "schedule": "@daily",\n}');
    expect(((await bad.json()) as Json).error.message).toMatch(/^body: invalid JSON at line 3/);
    const env = await send("PUT", "/api/v1/jobs/default/env", JSON.stringify({ schedule: "@daily", env: [{ value: "1" }] }));
    const msg = ((await env.json()) as Json).error.message;
    expect(msg).toBe("env[0].name: is required");
  });

  test("an empty body is empty, not 'got a undefined'", async () => {
    const r = await app.handle(new Request("http://localhost/api/v1/jobs", { method: "POST", headers: { authorization: `Bearer ${alice.token}` } }));
    expect(r.status).toBe(422);
    expect(((await r.json()) as Json).error.message).toBe("body: is empty; expected a job as JSON or YAML");
  });
});

describe("the message helper", () => {
  test("reads unions of literals, ranges and nested paths as a person would", () => {
    const schema = {
      type: "object",
      required: ["jobs"],
      properties: {
        jobs: { type: "array", items: { type: "object", required: ["state"], properties: { state: { anyOf: [{ const: "applied" }, { const: "drifted" }, { const: "error" }] } } } },
        n: { type: "integer", minimum: 1 },
        at: { anyOf: [{ type: "string" }, { type: "integer" }] },
      },
    };
    expect(explain(schema, { jobs: [{ state: "applied" }, { state: "lost" }] })).toEqual([{ field: "jobs[1].state", message: "must be applied, drifted or error" }]);
    expect(explain(schema, { jobs: [], n: 0 })).toEqual([{ field: "n", message: "must be at least 1" }]);
    expect(explain(schema, { jobs: [], at: true })).toEqual([{ field: "at", message: "must be a string or an integer" }]);
    expect(explain(schema, "text")).toEqual([{ field: "body", message: "must be an object" }]);
  });
});
