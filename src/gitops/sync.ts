// A sync: fetch the branch head, read its manifests, compute the plan, apply it in one
// transaction through the jobs service (putJob/deleteJob: every rule of the API holds), and
// write the status and a history row. One sync at a time per tenant: a request made while one
// runs waits for that one. See docs/gitops.md.
import { join } from "node:path";
import type { Db } from "../db";
import { AppError } from "../errors";
import type { Logger } from "../log";
import type { SecretBox } from "../secrets";
import { deleteJob, putJob, rowToJob, type JobRow } from "../jobs/jobs";
import { isoTime } from "../time";
import { fetchHead, readManifestFiles, type Head } from "./git";
import { computePlan, planCounts, type CurrentJob, type FileError, type Plan } from "./plan";
import { getGitopsSettings, pinGitopsHostKeys, readGitCredentials, type GitopsSettings } from "./settings";

export const SYNC_STATES = ["never", "syncing", "ok", "degraded", "failing"] as const;
export type SyncState = (typeof SYNC_STATES)[number];
export type SyncTrigger = "manual" | "periodic" | "webhook";

export interface SyncDeps {
  db: Db;
  secrets: SecretBox;
  dataDir: string;
  allowPrivateTargets: boolean;
  /** CRONTOPUS_GITOPS_CA_BUNDLE: the CA bundle for https remotes instead of the system's. */
  caFile?: string | null;
  now: () => number;
  log?: Logger;
}

export interface SyncResult {
  state: SyncState;
  commit: string | null;
  /** What went wrong as a whole (fetch, missing path, empty tree, prune guard); null otherwise. */
  message: string | null;
  plan: Plan | null;
}

interface StatusRow {
  tenant_id: string;
  state: SyncState;
  commit_sha: string | null;
  last_good_commit: string | null;
  last_sync_at: number | null;
  last_success_at: number | null;
  next_sync_at: number | null;
  failures_total: number;
  message: string | null;
  errors: string;
  plan: string | null;
}

/** Where a tenant's fetched repository lives. */
export function repoDir(dataDir: string, tenantId: string): string {
  return join(dataDir, "gitops", tenantId);
}

function readStatus(db: Db, tenantId: string): StatusRow | null {
  return db.query<StatusRow, [string]>("SELECT * FROM gitops_status WHERE tenant_id = ?").get(tenantId);
}

/** The status as GET /api/v1/gitops/status answers it. */
export function gitopsStatus(db: Db, tenantId: string) {
  const s = readStatus(db, tenantId);
  const plan = s?.plan ? (JSON.parse(s.plan) as Plan) : null;
  return {
    state: s?.state ?? "never",
    commit: s?.commit_sha ?? null,
    last_good_commit: s?.last_good_commit ?? null,
    last_sync_at: isoTime(s?.last_sync_at ?? null),
    next_sync_at: isoTime(s?.next_sync_at ?? null),
    message: s?.message ?? null,
    errors: s ? (JSON.parse(s.errors) as FileError[]) : [],
    plan: plan ? planCounts(plan) : { create: 0, update: 0, unchanged: 0, adopt: 0, delete: 0, orphan: 0 },
  };
}

/** The sync history, newest first, a page at a time (`before`: the id of the last row seen). */
export function listSyncs(db: Db, tenantId: string, limit = 50, before?: number) {
  const rows = db
    .query<{ id: number; commit_sha: string | null; author: string | null; message: string | null; trigger: string; state: string; counts: string; error: string | null; started_at: number; duration_ms: number }, [string, number, number]>(
      "SELECT * FROM gitops_syncs WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    )
    .all(tenantId, before ?? Number.MAX_SAFE_INTEGER, limit + 1);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return {
    syncs: page.map((r) => ({
      id: r.id,
      commit: r.commit_sha,
      author: r.author,
      message: r.message,
      trigger: r.trigger,
      state: r.state,
      counts: JSON.parse(r.counts) as ReturnType<typeof planCounts>,
      error: r.error,
      started_at: isoTime(r.started_at),
      duration_ms: r.duration_ms,
    })),
    next_cursor: more ? String(page.at(-1)!.id) : null,
  };
}

/** The prune guard: deleting every git-managed job, or more than half of them when there are more than 10. */
export function pruneGuardTrips(deletes: number, managed: number): boolean {
  return deletes > 0 && (deletes >= managed || (managed > 10 && deletes > managed / 2));
}

export class GitopsSyncer {
  private readonly running = new Map<string, Promise<SyncResult>>();
  constructor(private readonly deps: SyncDeps) {}

  /** Syncs the tenant's repository now; while one runs, answers that one's result. */
  sync(tenantId: string, trigger: SyncTrigger, confirmPrune?: string): Promise<SyncResult> {
    const busy = this.running.get(tenantId);
    if (busy) return busy;
    const run = this.run(tenantId, trigger, confirmPrune).finally(() => this.running.delete(tenantId));
    this.running.set(tenantId, run);
    return run;
  }

  isRunning(tenantId: string): boolean {
    return this.running.has(tenantId);
  }

  /** What a sync of the branch head would do, applying nothing. */
  async plan(tenantId: string): Promise<Plan & { message?: string }> {
    const { db } = this.deps;
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const head = await this.fetch(tenantId, settings);
    const files = await readManifestFiles(repoDir(this.deps.dataDir, tenantId), head.commit, settings.path);
    return computePlan(head.commit, settings.path, files, currentJobs(db, tenantId), settings.prune).plan;
  }

  private fetch(tenantId: string, s: GitopsSettings): Promise<Head> {
    return fetchHead(repoDir(this.deps.dataDir, tenantId), {
      url: s.url,
      branch: s.branch,
      path: s.path,
      credentials: readGitCredentials(this.deps.db, this.deps.secrets, tenantId),
      sshKnownHosts: s.ssh_known_hosts,
      allowPrivate: this.deps.allowPrivateTargets,
      caFile: this.deps.caFile ?? null,
      // Trust on first use: the host key of the first contact is kept, and required from then on.
      onHostKeyPinned: (entries) => {
        if (pinGitopsHostKeys(this.deps.db, tenantId, s.url, entries, this.deps.now())) {
          this.deps.log?.info("gitops ssh host key pinned on first use", { tenant_id: tenantId, host_keys: entries.map((e) => e.split(/\s+/).slice(0, 2).join(" ")).join(", ") });
        }
      },
    });
  }

  private async run(tenantId: string, trigger: SyncTrigger, confirmPrune?: string): Promise<SyncResult> {
    const { db, now } = this.deps;
    const started = now();
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const before = readStatus(db, tenantId);
    db.query("INSERT INTO gitops_status (tenant_id, state) VALUES (?1, 'syncing') ON CONFLICT (tenant_id) DO UPDATE SET state = 'syncing'").run(tenantId);
    let head: Head | null = null;
    try {
      head = await this.fetch(tenantId, settings);
      // An unchanged head (and settings) costs this one fetch and no parse.
      if (
        before && head.commit === before.commit_sha && before.last_sync_at !== null && settings.updated_at <= before.last_sync_at &&
        (before.state === "ok" || before.state === "degraded") && !confirmPrune
      ) {
        db.query("UPDATE gitops_status SET state = ?1, last_sync_at = ?2 WHERE tenant_id = ?3").run(before.state, now(), tenantId);
        return { state: before.state, commit: head.commit, message: null, plan: before.plan ? (JSON.parse(before.plan) as Plan) : null };
      }
      const files = await readManifestFiles(repoDir(this.deps.dataDir, tenantId), head.commit, settings.path);
      if (files.length === 0) throw new SyncFailure(`no manifest files below ${settings.path || "the root"} in ${head.commit.slice(0, 12)}: nothing changed`);
      const current = currentJobs(db, tenantId);
      const { plan, desired } = computePlan(head.commit, settings.path, files, current, settings.prune);
      const managed = current.filter((j) => j.managed).length;
      if (pruneGuardTrips(plan.delete.length, managed) && confirmPrune !== head.commit) {
        const msg = `the prune guard stopped this sync: it would delete ${plan.delete.length} of ${managed} git-managed jobs; nothing was applied. Confirm with confirm_prune=${head.commit}`;
        return this.finish(tenantId, trigger, started, head, "failing", msg, plan, before);
      }
      // One transaction: the whole plan or nothing. A job the service refuses is an error of its file.
      db.transaction(() => {
        const t = now();
        for (const d of desired) {
          try {
            db.transaction(() => {
              putJob(db, tenantId, d.namespace, d.name, d.doc, t, { bySync: true });
              db.query("UPDATE jobs SET source_repository = ?1, source_path = ?2, source_commit = ?3 WHERE tenant_id = ?4 AND namespace = ?5 AND name = ?6").run(
                settings.url, d.path, head!.commit, tenantId, d.namespace, d.name,
              );
            })();
          } catch (e) {
            if (!(e instanceof AppError)) throw e;
            plan.errors.push({ path: d.path, line: 1, column: 1, message: e.message });
          }
        }
        for (const del of plan.delete) deleteJob(db, tenantId, del.namespace, del.name, { bySync: true });
      })();
      return this.finish(tenantId, trigger, started, head, plan.errors.length ? "degraded" : "ok", null, plan, before);
    } catch (e) {
      if (!(e instanceof SyncFailure) && !(e instanceof Error && (e.name === "GitError" || e.name === "TargetRefused"))) {
        this.finish(tenantId, trigger, started, head, "failing", "internal error", null, before);
        throw e;
      }
      return this.finish(tenantId, trigger, started, head, "failing", e.message, null, before);
    }
  }

  private finish(tenantId: string, trigger: SyncTrigger, started: number, head: Head | null, state: SyncState, message: string | null, plan: Plan | null, before: StatusRow | null): SyncResult {
    const { db, now } = this.deps;
    const t = now();
    db.transaction(() => {
      db.query(
        `UPDATE gitops_status SET state = $state, commit_sha = $commit, last_sync_at = $now, message = $message, errors = $errors, plan = $plan,
           last_good_commit = CASE WHEN $state = 'ok' THEN $commit ELSE last_good_commit END,
           last_success_at = CASE WHEN $state IN ('ok', 'degraded') THEN $now ELSE last_success_at END,
           failures_total = failures_total + CASE WHEN $state = 'failing' THEN 1 ELSE 0 END
         WHERE tenant_id = $tenant`,
      ).run({
        state,
        commit: head?.commit ?? before?.commit_sha ?? null,
        now: t,
        message,
        errors: JSON.stringify(plan?.errors ?? []),
        plan: plan ? JSON.stringify(plan) : (before?.plan ?? null),
        tenant: tenantId,
      });
      db.query(
        `INSERT INTO gitops_syncs (tenant_id, commit_sha, author, message, trigger, state, counts, error, started_at, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
      ).run(tenantId, head?.commit ?? null, head?.author ?? null, head?.message ?? null, trigger, state, JSON.stringify(plan ? planCounts(plan) : {}), message, started, t - started);
    })();
    if (state === "failing") this.deps.log?.warn("gitops sync failed", { tenant_id: tenantId, reason: message ?? "" });
    return { state, commit: head?.commit ?? null, message, plan };
  }
}

class SyncFailure extends Error {}

function currentJobs(db: Db, tenantId: string): CurrentJob[] {
  return db
    .query<JobRow, [string]>("SELECT * FROM jobs WHERE tenant_id = ?")
    .all(tenantId)
    .map((r) => {
      const j = rowToJob(r);
      return { spec: j, managed: j.source !== null, source_path: j.source?.path ?? null };
    });
}
