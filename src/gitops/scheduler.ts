// Periodic GitOps syncs: every tenant with a repository is synced every `interval` (with up to 10%
// jitter, so tenants connected together do not fetch together), one sync at a time per tenant
// (GitopsSyncer), and at most MAX_CONCURRENT syncs, so at most that many git processes, for the
// whole server; a sync that ends hands its slot to the next due tenant at once. It runs on timers
// of its own and spawns git: a slow remote never delays check-ins.
import type { Db } from "../db";
import type { Logger } from "../log";
import type { GitopsSyncer } from "./sync";

export const MAX_CONCURRENT = 4;
const TICK_MS = 1000;

export class GitopsScheduler {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly active = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly syncer: GitopsSyncer,
    private readonly now: () => number,
    private readonly log?: Logger,
    private readonly maxConcurrent = MAX_CONCURRENT,
    private readonly tickMs = TICK_MS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
  }

  /** Stops starting syncs and waits for the running ones. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.active]);
  }

  /** Starts the syncs that are due, as many as the bound allows; returns how many it started. */
  tick(): number {
    const free = this.maxConcurrent - this.active.size;
    if (free <= 0) return 0;
    const t = this.now();
    // cross-tenant: the scheduler looks at every tenant's next sync time.
    const due = this.db
      .query<{ tenant_id: string; interval_s: number }, [number, number]>(
        `SELECT s.tenant_id, s.interval_s FROM gitops_settings s LEFT JOIN gitops_status st ON st.tenant_id = s.tenant_id
         WHERE st.next_sync_at IS NULL OR st.next_sync_at <= ? ORDER BY ifnull(st.next_sync_at, 0) LIMIT ?`,
      )
      .all(t, free * 2);
    let started = 0;
    for (const d of due) {
      if (started >= free || this.syncer.isRunning(d.tenant_id)) continue;
      const next = t + d.interval_s * 1000 + Math.floor(Math.random() * d.interval_s * 100);
      // cross-tenant: the row of the tenant just read.
      this.db.query("INSERT INTO gitops_status (tenant_id, next_sync_at) VALUES (?1, ?2) ON CONFLICT (tenant_id) DO UPDATE SET next_sync_at = ?2").run(d.tenant_id, next);
      const run = this.syncer
        .sync(d.tenant_id, "periodic")
        .catch((e) => this.log?.error("gitops sync failed", { tenant_id: d.tenant_id, error: e instanceof Error ? e.message : String(e) }))
        .finally(() => {
          this.active.delete(run);
          // A free slot goes to the next due tenant at once: waiting for the next tick would cap
          // the whole server at maxConcurrent syncs a tick (100 tenants every 10 s need 10 a second).
          if (this.timer) this.tick();
        });
      this.active.add(run);
      started++;
    }
    return started;
  }
}
