// Adoption: a crontab line an agent discovered on its host becomes a managed job aimed at that
// host; on its next pass the agent swaps the line for the managed entry.
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { createJob, type Job } from "../jobs/jobs";
import { findAgent } from "./registry";

export interface AdoptInput {
  /** "default" when left out. */
  namespace?: string;
  name: string;
  /** The zone the host's cron reads the line in; UTC when left out. */
  timezone?: string;
}

/**
 * Adopts a discovered entry of an agent (by id or name): creates a job with its schedule, command
 * and user, aimed at this host (selector hostname=<host>), and marks the entry so that the agent
 * replaces the line. Conflict when the entry was adopted already or the job exists.
 */
export function adoptEntry(db: Db, tenantId: string, agentRef: string, entryId: string, input: AdoptInput, now: number): { job: Job; warnings: string[] } {
  const agent = findAgent(db, tenantId, agentRef);
  const entry = db
    .query<{ id: string; user: string | null; schedule: string; command: string; adopted_job_id: string | null }, [string, string, string]>(
      "SELECT id, user, schedule, command, adopted_job_id FROM agent_discovered WHERE tenant_id = ? AND agent_id = ? AND id = ?",
    )
    .get(tenantId, agent.id, entryId);
  if (!entry) throw new NotFound(`discovered entry ${entryId}`);
  if (entry.adopted_job_id) throw new Conflict(`entry ${entryId} was adopted already`);
  if (entry.schedule === "@reboot") throw new Invalid("entry", "an @reboot entry has no schedule Crontopus can monitor; leave it unmanaged");
  return db.transaction(() => {
    const doc: Record<string, unknown> = {
      name: input.name,
      namespace: input.namespace ?? "default",
      schedule: entry.schedule,
      timezone: input.timezone ?? "UTC",
      command: unescapeCron(entry.command),
      agent: { selector: { hostname: agent.hostname } },
      annotations: { "crontopus.io/adopted-from": `${agent.name}:${entry.id}` },
    };
    if (entry.user) doc.user = entry.user;
    const { job, warnings } = createJob(db, tenantId, doc, now);
    db.query("UPDATE agent_discovered SET adopted_job_id = ? WHERE tenant_id = ? AND agent_id = ? AND id = ?").run(job.id, tenantId, agent.id, entry.id);
    return { job, warnings };
  })();
}

/** A command as cron reads it from a line: "\%" is a literal "%" (the only escape both crons share). */
function unescapeCron(command: string): string {
  if (/(^|[^\\])%/.test(command)) throw new Invalid("entry", "the line feeds standard input through '%'; adopt it by hand");
  return command.replace(/\\%/g, "%");
}
