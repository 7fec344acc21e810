import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { checkSlug } from "./tenants";

export interface Namespace {
  name: string;
  jobs: number;
  created_at: number;
}

export function listNamespaces(db: Db, tenantId: string): Namespace[] {
  return db
    .query<Namespace, [string]>(
      `SELECT n.name, n.created_at, (SELECT count(*) FROM jobs j WHERE j.tenant_id = n.tenant_id AND j.namespace = n.name) AS jobs
       FROM namespaces n WHERE n.tenant_id = ? ORDER BY n.name`,
    )
    .all(tenantId);
}

/** Creates the namespace unless it exists; used by job writes, which create namespaces on demand. */
export function ensureNamespace(db: Db, tenantId: string, name: string, now: number): void {
  db.query("INSERT OR IGNORE INTO namespaces (tenant_id, name, created_at) VALUES (?, ?, ?)").run(tenantId, name, now);
}

export function createNamespace(db: Db, tenantId: string, name: string, now: number): Namespace {
  checkSlug("name", name);
  const res = db.query("INSERT OR IGNORE INTO namespaces (tenant_id, name, created_at) VALUES (?, ?, ?)").run(tenantId, name, now);
  if (res.changes === 0) throw new Conflict(`namespace ${name} already exists`);
  return { name, jobs: 0, created_at: now };
}

export function deleteNamespace(db: Db, tenantId: string, name: string): void {
  if (name === "default") throw new Invalid("name", "the default namespace cannot be deleted");
  db.transaction(() => {
    const exists = db.query("SELECT 1 FROM namespaces WHERE tenant_id = ? AND name = ?").get(tenantId, name);
    if (!exists) throw new NotFound(`namespace ${name}`);
    const jobs = db
      .query<{ n: number }, [string, string]>("SELECT count(*) AS n FROM jobs WHERE tenant_id = ? AND namespace = ?")
      .get(tenantId, name)!.n;
    if (jobs > 0) throw new Conflict(`namespace ${name} still has ${jobs} job(s); delete or move them first`);
    db.query("DELETE FROM namespaces WHERE tenant_id = ? AND name = ?").run(tenantId, name);
  })();
}
