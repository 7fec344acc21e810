// Tenant scoping you can see: every SQL statement in the service code that reads or writes tenant
// data names tenant_id, so a query is never safe only because an earlier lookup was scoped. The
// few places that are cross-tenant on purpose are listed here, each with its reason; a lookup by
// a secret token (the token itself picks the tenant) says so in a comment just above it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
/** Tables whose rows belong to a tenant (every one of them has a tenant_id column). */
const TENANT_TABLES = new Set(["agent_discovered", "agent_flips", "agent_jobs", "agents", "api_tokens", "channels", "checkins", "deleted_jobs", "enrollment_tokens", "flips", "invitations", "jobs", "memberships", "namespaces", "notifications", "sessions"]);
/** Cross-tenant on purpose, by file. */
const CROSS_TENANT: Record<string, string> = {
  "src/monitor/engine.ts": "the engine applies every tenant's check-ins and deadlines",
  "src/monitor/states.ts": "the owner of every job's monitoring state, written back by rowid",
  "src/checkins/writer.ts": "the check-in log is appended for all tenants in one group commit",
  "src/alerts/outbox.ts": "the outbox delivers every tenant's notifications",
  "src/runs/retention.ts": "retention prunes every tenant's history by its own settings",
  "src/runs/purge.ts": "deleted jobs' history is purged for all tenants",
  "src/metrics/metrics.ts": "operator metrics count across tenants",
  "src/agents/crosstenant.ts": "agents found by their secret token, and the liveness sweep over every tenant's agents",
};
/** The comment that marks a statement cross-tenant on purpose (a lookup by a secret token, say) and why. */
const BY_TOKEN = /cross-tenant: /;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(p) && !/\.test\.tsx?$/.test(p) && !p.endsWith(".d.ts") ? [p] : [];
  });
}

/** String literals holding SQL, with the line each starts on. */
function statements(src: string): { sql: string; line: number }[] {
  const out: { sql: string; line: number }[] = [];
  for (const m of src.matchAll(/`(?:[^`\\]|\\.)*`|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g)) {
    if (/\b(SELECT|UPDATE|DELETE|INSERT)\b/.test(m[0]) && /\b(FROM|JOIN|UPDATE|INTO)\s+[a-z_]+/.test(m[0])) {
      out.push({ sql: m[0], line: src.slice(0, m.index).split("\n").length });
    }
  }
  return out;
}

/** The marker comment stands on the line above the statement's (or above the call it opens). */
function markedAbove(lines: string[], line: number): boolean {
  for (let i = line - 2; i >= 0 && i >= line - 3; i--) {
    const l = lines[i]!.trim();
    if (l.startsWith("//")) return BY_TOKEN.test(l);
    if (!l.endsWith("(")) return false;
  }
  return false;
}

/** The unscoped statements in these sources (path relative to the repository, text). */
function unscoped(sources: { name: string; src: string }[]): string[] {
  const found: string[] = [];
  for (const { name, src } of sources) {
    if (CROSS_TENANT[name]) continue;
    const lines = src.split("\n");
    for (const { sql, line } of statements(src)) {
      const tables = [...sql.matchAll(/\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)/g)].map((m) => m[1]!).filter((t) => TENANT_TABLES.has(t));
      if (!tables.length || sql.includes("tenant_id")) continue;
      if (markedAbove(lines, line)) continue;
      found.push(`${name}:${line} [${tables.join(", ")}] ${sql.replace(/\s+/g, " ").slice(0, 100)}`);
    }
  }
  return found;
}

test("every query on tenant data names tenant_id, outside the places that are cross-tenant on purpose", () => {
  const sources = sourceFiles(join(ROOT, "src")).map((f) => ({ name: relative(ROOT, f), src: readFileSync(f, "utf8") }));
  expect(sources.length).toBeGreaterThan(50);
  expect(unscoped(sources)).toEqual([]);
});

test("the cross-tenant places listed exist (a moved file must be listed again)", () => {
  for (const file of Object.keys(CROSS_TENANT)) expect(statSync(join(ROOT, file)).isFile()).toBe(true);
});

test("the scan reports a query scoped only by an earlier lookup, and passes a scoped or marked one", () => {
  const src = [
    'const a = db.query("SELECT * FROM agents WHERE id = ?");',
    "const b = db.query(`UPDATE agent_jobs SET state = ? WHERE tenant_id = ? AND agent_id = ?`);",
    "// cross-tenant: a lookup by a secret token.",
    'const c = db.query("SELECT * FROM agents WHERE token_hash = ?");',
    "const d = db.query('DELETE FROM flips WHERE job_id = ?');",
    'const e = "no SQL FROM here";',
  ].join("\n");
  expect(unscoped([{ name: "src/x.ts", src }])).toEqual([
    'src/x.ts:1 [agents] "SELECT * FROM agents WHERE id = ?"',
    "src/x.ts:5 [flips] 'DELETE FROM flips WHERE job_id = ?'",
  ]);
  expect(unscoped([{ name: "src/monitor/engine.ts", src }])).toEqual([]);
});
