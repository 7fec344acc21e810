// Migrations are inlined at build time so a `bun build --compile` binary carries them.
// Add each new migrations/NNNN_name.sql here; db.test.ts checks none is forgotten.
import m0001 from "../migrations/0001_init.sql" with { type: "text" };
import m0002 from "../migrations/0002_monitoring.sql" with { type: "text" };
import m0003 from "../migrations/0003_agents.sql" with { type: "text" };
import m0004 from "../migrations/0004_log_without_tenant_index.sql" with { type: "text" };
import m0005 from "../migrations/0005_continuous_run_history.sql" with { type: "text" };
import m0006 from "../migrations/0006_times_and_deleted_jobs.sql" with { type: "text" };
import m0007 from "../migrations/0007_secrets_at_rest.sql" with { type: "text" };
import m0008 from "../migrations/0008_invitations.sql" with { type: "text" };
import m0009 from "../migrations/0009_gitops.sql" with { type: "text" };
import m0010 from "../migrations/0010_gitops_triggers.sql" with { type: "text" };

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "0001_init", sql: m0001 },
  { version: 2, name: "0002_monitoring", sql: m0002 },
  { version: 3, name: "0003_agents", sql: m0003 },
  { version: 4, name: "0004_log_without_tenant_index", sql: m0004 },
  { version: 5, name: "0005_continuous_run_history", sql: m0005 },
  { version: 6, name: "0006_times_and_deleted_jobs", sql: m0006 },
  { version: 7, name: "0007_secrets_at_rest", sql: m0007 },
  { version: 8, name: "0008_invitations", sql: m0008 },
  { version: 9, name: "0009_gitops", sql: m0009 },
  { version: 10, name: "0010_gitops_triggers", sql: m0010 },
];
