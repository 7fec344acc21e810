// Adoption: a crontab line an agent discovered on its host becomes a managed job aimed at that
// host; on its next pass the agent swaps the line for the managed entry.
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { createJob, type Job } from "../jobs/jobs";
import { findAgent } from "./registry";
import type { DiscoveredEntry } from "./model";

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
  const refused = adoptionRefused(entry);
  if (refused) throw new Invalid("entry", refused);
  return db.transaction(() => {
    const doc: Record<string, unknown> = {
      name: input.name,
      namespace: input.namespace ?? "default",
      schedule: entry.schedule,
      timezone: input.timezone ?? "UTC",
      command: entry.command.replace(/\\%/g, "%"),
      agent: { selector: { hostname: agent.hostname } },
      annotations: { "crontopus.io/adopted-from": `${agent.name}:${entry.id}` },
    };
    if (entry.user) doc.user = entry.user;
    const { job, warnings } = createJob(db, tenantId, doc, now);
    db.query("UPDATE agent_discovered SET adopted_job_id = ? WHERE tenant_id = ? AND agent_id = ? AND id = ?").run(job.id, tenantId, agent.id, entry.id);
    return { job, warnings };
  })();
}

/**
 * Why a discovered entry cannot become a managed job, or null when it can: an @reboot line has no
 * schedule to monitor, and a bare "%" feeds standard input (cron's "\%" is a literal "%", the
 * only escape both crons share, and is unescaped on adoption). The console shows the reason in
 * place of the Adopt form.
 */
export function adoptionRefused(entry: Pick<DiscoveredEntry, "schedule" | "command">): string | null {
  if (entry.schedule === "@reboot") return "an @reboot entry has no schedule Crontopus can monitor; leave it unmanaged";
  if (/(^|[^\\])%/.test(entry.command)) return "the line feeds standard input through '%'; adopt it by hand";
  return null;
}
