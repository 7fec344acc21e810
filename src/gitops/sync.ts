// A sync: fetch the branch head, read its manifests, compute the plan, apply it in one
// transaction through the jobs service (putJob/deleteJob: every rule of the API holds), and
// write the status and a history row. One sync at a time per tenant: a request made while one
// runs waits for that one. Syncs and write-backs (src/gitops/writeback.ts) of a tenant take turns
// through one lock (exclusive). See docs/gitops.md.
import { join } from "node:path";
import type { Db } from "../db";
import { AppError } from "../errors";
import type { Logger } from "../log";
import type { SecretBox } from "../secrets";
import { deleteJob, putJob, rowToJob, type JobRow } from "../jobs/jobs";
import { isoTime } from "../time";
import { fetchHead, readManifestFiles, type Head, type Remote } from "./git";
import { computePlan, planCounts, type CurrentJob, type DesiredJob, type FileError, type Plan } from "./plan";
import { getGitopsSettings, readGitCredentials, type GitopsSettings } from "./settings";

export const SYNC_STATES = ["never", "syncing", "ok", "degraded", "failing"] as const;
export type SyncState = (typeof SYNC_STATES)[number];
export type SyncTrigger = "manual" | "periodic" | "webhook" | "write_back";

export interface SyncDeps {
  db: Db;
  secrets: SecretBox;
  dataDir: string;
  allowPrivateTargets: boolean;
  now: () => number;
  log?: Logger;
  /** The server's base URL: write-back's committer is crontopus@<its host>. */
  baseUrl?: string;
}

/** A sync's extras for a write-back: the commit just pushed (no fetch), the jobs its user deleted. */
export interface SyncOptions {
  confirmPrune?: string;
  /** The head to apply, already in the repository directory: no fetch. */
  head?: Head;
  /** Jobs a user deleted through write-back: deleted even with prune off, and not counted by the prune guard. */
  deletes?: { namespace: string; name: string }[];
}

/** What applying a commit would do, before anything is applied. */
export interface PreparedSync {
  plan: Plan;
  desired: DesiredJob[];
  /** Why the prune guard stops this commit, or null. */
  guard: string | null;
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
  /** The tail of each tenant's queue of syncs and write-backs (see exclusive). */
  private readonly locks = new Map<string, Promise<unknown>>();
  constructor(readonly deps: SyncDeps) {}

  /** Syncs the tenant's repository now; while one runs (or waits its turn), answers that one's result. */
  sync(tenantId: string, trigger: SyncTrigger, confirmPrune?: string): Promise<SyncResult> {
    const busy = this.running.get(tenantId);
    if (busy) return busy;
    const run = this.exclusive(tenantId, () => this.run(tenantId, trigger, { confirmPrune })).finally(() => this.running.delete(tenantId));
    this.running.set(tenantId, run);
    return run;
  }

  /** Whether a sync or a write-back of the tenant runs or waits. */
  isRunning(tenantId: string): boolean {
    return this.running.has(tenantId) || this.locks.has(tenantId);
  }

  /**
   * Runs `fn` when no other sync or write-back of the tenant runs: one at a time per tenant, in
   * the order asked. A write-back holds it from its fetch to the end of the sync of its commit.
   */
  exclusive<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(tenantId) ?? Promise.resolve();
    const mine = before.then(fn);
    const tail = mine.then(
      () => {},
      () => {},
    );
    this.locks.set(tenantId, tail);
    void tail.then(() => {
      if (this.locks.get(tenantId) === tail) this.locks.delete(tenantId);
    });
    return mine;
  }

  /** A sync for a caller that holds the tenant's turn (exclusive): a write-back applying its commit. */
  syncHeld(tenantId: string, trigger: SyncTrigger, opts: SyncOptions): Promise<SyncResult> {
    return this.run(tenantId, trigger, opts);
  }

  /** What a sync of the branch head would do, applying nothing. In the tenant's turn: it fetches into the same directory. */
  plan(tenantId: string): Promise<Plan & { message?: string }> {
    const { db } = this.deps;
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    return this.exclusive(tenantId, async () => {
      const head = await this.fetch(tenantId, settings);
      const files = await readManifestFiles(repoDir(this.deps.dataDir, tenantId), head.commit, settings.path);
      return computePlan(head.commit, settings.path, files, currentJobs(db, tenantId), settings.prune).plan;
    });
  }

  /** The tenant's remote, with its credentials opened: for git.ts, nothing else. */
  remote(tenantId: string, s: GitopsSettings): Remote {
    return {
      url: s.url,
      branch: s.branch,
      path: s.path,
      credentials: readGitCredentials(this.deps.db, this.deps.secrets, tenantId),
      sshKnownHosts: s.ssh_known_hosts,
      allowPrivate: this.deps.allowPrivateTargets,
    };
  }

  /** Fetches the branch head into the tenant's repository directory. */
  fetch(tenantId: string, s: GitopsSettings): Promise<Head> {
    return fetchHead(repoDir(this.deps.dataDir, tenantId), this.remote(tenantId, s));
  }

  /**
   * The plan of `commit` (already fetched) against the jobs as they are, and whether the prune
   * guard stops it; applies nothing. Throws SyncFailure or GitError for a commit with no manifest.
   */
  async prepare(tenantId: string, settings: GitopsSettings, commit: string, deletes: SyncOptions["deletes"] = []): Promise<PreparedSync> {
    const { db } = this.deps;
    const files = await readManifestFiles(repoDir(this.deps.dataDir, tenantId), commit, settings.path);
    if (files.length === 0) throw new SyncFailure(`no manifest files below ${settings.path || "the root"} in ${commit.slice(0, 12)}: nothing changed`);
    const current = currentJobs(db, tenantId);
    const { plan, desired } = computePlan(commit, settings.path, files, current, settings.prune);
    // A job its user deleted through write-back goes, prune or not; the guard counts only the others.
    const asked = new Set(deletes.map((d) => `${d.namespace}/${d.name}`));
    const isAsked = (i: { namespace: string; name: string }) => asked.has(`${i.namespace}/${i.name}`);
    plan.delete.push(...plan.orphan.filter(isAsked));
    plan.orphan = plan.orphan.filter((i) => !isAsked(i));
    const managed = current.filter((j) => j.managed).length - plan.delete.filter(isAsked).length;
    const pruned = plan.delete.filter((i) => !isAsked(i)).length;
    const guard = pruneGuardTrips(pruned, managed)
      ? `the prune guard stopped this sync: it would delete ${pruned} of ${managed} git-managed jobs; nothing was applied. Confirm with confirm_prune=${commit}`
      : null;
    return { plan, desired, guard };
  }

  private async run(tenantId: string, trigger: SyncTrigger, opts: SyncOptions): Promise<SyncResult> {
    const { confirmPrune } = opts;
    const { db, now } = this.deps;
    const started = now();
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const before = readStatus(db, tenantId);
    db.query("INSERT INTO gitops_status (tenant_id, state) VALUES (?1, 'syncing') ON CONFLICT (tenant_id) DO UPDATE SET state = 'syncing'").run(tenantId);
    let head: Head | null = null;
    try {
      head = opts.head ?? (await this.fetch(tenantId, settings));
      // An unchanged head (and settings) costs this one fetch and no parse.
      if (
        before && head.commit === before.commit_sha && before.last_sync_at !== null && settings.updated_at <= before.last_sync_at &&
        (before.state === "ok" || before.state === "degraded") && !confirmPrune
      ) {
        db.query("UPDATE gitops_status SET state = ?1, last_sync_at = ?2 WHERE tenant_id = ?3").run(before.state, now(), tenantId);
        return { state: before.state, commit: head.commit, message: null, plan: before.plan ? (JSON.parse(before.plan) as Plan) : null };
      }
      const { plan, desired, guard } = await this.prepare(tenantId, settings, head.commit, opts.deletes);
      if (guard && confirmPrune !== head.commit) return this.finish(tenantId, trigger, started, head, "failing", guard, plan, before);
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

/** What stops a sync as a whole (no manifest below the path): reported, nothing applied. */
export class SyncFailure extends Error {
  override name = "SyncFailure";
}

function currentJobs(db: Db, tenantId: string): CurrentJob[] {
  return db
    .query<JobRow, [string]>("SELECT * FROM jobs WHERE tenant_id = ?")
    .all(tenantId)
    .map((r) => {
      const j = rowToJob(r);
      return { spec: j, managed: j.source !== null, source_path: j.source?.path ?? null };
    });
}
