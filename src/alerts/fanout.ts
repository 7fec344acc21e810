// The alert fan-out, written once: an event about a job, an agent or the GitOps sync becomes one
// queued notification per channel that should hear of it (the job's channels, or every channel of
// the tenant when no job is concerned), all carrying the same AlertMessage. Called by the engine
// (job flips, reminders), by the agents feature (an agent offline or back, a drift) and by GitOps
// syncs (the state left ok, or came back), inside the transaction that wrote what it is about.
import type { Db } from "../db";
import { findChannelsByName, type Channel } from "./channels";
import { enqueueNotification } from "./outbox";
import { jobConsoleUrl, tailOutput, type AlertEvent, type AlertMessage, type GitopsAlert } from "./message";
import { isoTime } from "../time";

export interface Alert {
  tenantId: string;
  event: AlertEvent;
  /** The job it is about: its channels hear of it. Without one, all of the tenant's channels do. */
  job: { id: string; namespace: string; name: string; channels: string[] | null } | null;
  /** The agent it is about (offline, back online), or the host a drift was found on. */
  agent?: { id: string; name: string; hostname: string };
  /** The GitOps sync it is about (src/gitops/alerts.ts); the link to the console's page is added here. */
  gitops?: Omit<GitopsAlert, "url">;
  status: string;
  previousStatus: string | null;
  reason: string;
  /** When the job or the agent entered `status` (epoch ms). */
  since: number;
  /** The run's output, read only when some channel will hear of it. */
  output?: () => string | null;
  /** The message's dedup key: stable per job or agent, so that a receiver's resolve closes its trigger. */
  incidentKey: string;
  flipId: number | null;
  /** The outbox's key for one channel: a second enqueue with the same key is a no-op. */
  outboxKey: (channelId: string) => string;
  /** When it is queued (epoch ms). */
  at: number;
}

/**
 * Queues alerts, looking each tenant's channels and name up once: many jobs of one tenant
 * often fall due in the same engine tick, which keeps one AlertFanOut for the tick.
 */
export class AlertFanOut {
  private readonly channels = new Map<string, Channel[]>();
  private readonly tenants = new Map<string, { slug: string; name: string }>();

  constructor(
    private readonly db: Db,
    private readonly baseUrl: string,
  ) {}

  /** Queues the alert for each of its channels; returns how many notifications were queued. */
  queue(alert: Alert): number {
    const channels = this.channelsFor(alert.tenantId, alert.job?.channels ?? null);
    if (channels.length === 0) return 0;
    const message = this.message(alert);
    let queued = 0;
    for (const ch of channels) {
      const input = { tenantId: alert.tenantId, channelId: ch.id, jobId: alert.job?.id ?? null, flipId: alert.flipId, event: alert.event, dedupKey: alert.outboxKey(ch.id), message };
      if (enqueueNotification(this.db, input, alert.at) !== null) queued++;
    }
    return queued;
  }

  private message(alert: Alert): AlertMessage {
    const base = this.baseUrl.replace(/\/+$/, "");
    const { job, agent, gitops } = alert;
    return {
      event: alert.event,
      tenant: this.tenant(alert.tenantId),
      job: job ? { id: job.id, namespace: job.namespace, name: job.name, url: jobConsoleUrl(this.baseUrl, job.namespace, job.name) } : null,
      ...(agent ? { agent: { id: agent.id, name: agent.name, hostname: agent.hostname, url: `${base}/agents/${agent.id}` } } : {}),
      ...(gitops ? { gitops: { ...gitops, url: `${base}/settings/gitops` } } : {}),
      status: alert.status,
      previous_status: alert.previousStatus,
      reason: alert.reason,
      since: isoTime(alert.since),
      last_output: alert.output ? tailOutput(alert.output()) : null,
      dedup_key: alert.incidentKey,
    };
  }

  /** The channels a job alerts (by name), or all of the tenant's for null. */
  private channelsFor(tenantId: string, names: string[] | null): Channel[] {
    const key = `${tenantId}\u0000${names ? names.join("\u0000") : "*"}`;
    let channels = this.channels.get(key);
    if (!channels) this.channels.set(key, (channels = findChannelsByName(this.db, tenantId, names)));
    return channels;
  }

  private tenant(tenantId: string): { slug: string; name: string } {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      const row = this.db.query<{ slug: string; name: string }, [string]>("SELECT slug, name FROM tenants WHERE id = ?").get(tenantId)!;
      this.tenants.set(tenantId, (tenant = { slug: row.slug, name: row.name }));
    }
    return tenant;
  }
}
