// A sync: fetch the branch head, read its manifests, compute the plan, apply it in one
// transaction through the jobs service (putJob/deleteJob: every rule of the API holds), and
// write the status and a history row. One sync at a time per tenant: a request made while one
// runs waits for that one. Syncs and write-backs (src/gitops/writeback.ts) of a tenant take turns
// (exclusive); git work in the tenant's directory runs one at a time (inRepo). See docs/gitops.md.
import { join } from "node:path";
import type { Db } from "../db";
import { AppError, Invalid } from "../errors";
import type { Logger } from "../log";
import type { SecretBox } from "../secrets";
import { deleteJob, putJob, rowToJob, type JobRow } from "../jobs/jobs";
import { isoTime } from "../time";
import { fetchHead, isManifestPath, readManifestFiles, remoteHead, treeLimitError, type Head, type Remote } from "./git";
import { computePlan, planCounts, readingKey, type CurrentJob, type DesiredJob, type FileError, type FileReading, type Plan, type PlanFile } from "./plan";
import { getGitopsSettings, pinGitopsHostKeys, readGitCredentials, type GitopsSettings } from "./settings";
import { queueGitopsAlert, type FinishedState } from "./alerts";

export const SYNC_STATES = ["never", "syncing", "ok", "degraded", "failing"] as const;
export type SyncState = (typeof SYNC_STATES)[number];
export type SyncTrigger = "manual" | "periodic" | "webhook" | "write_back";

export interface SyncDeps {
  db: Db;
  secrets: SecretBox;
  dataDir: string;
  allowPrivateTargets: boolean;
  /** CRONTOPUS_BASE_URL: the console link of alerts; write-back's committer is crontopus@<its host>. */
  baseUrl: string;
  /** CRONTOPUS_GITOPS_CA_BUNDLE: the CA bundle for https remotes instead of the system's. */
  caFile?: string | null;
  now: () => number;
  log?: Logger;
  /** Told when a sync's transaction rolled back (the engine forgets what it held, deletes included). */
  rolledBack?: () => void;
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
  /** The jobs as the plan found them. */
  current: SyncedJob[];
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
  sync_started_at: number | null;
  sync_trigger: SyncTrigger | null;
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

/** The whole plan of the last sync that computed one (its orphans, for the console); null before any. */
export function lastSyncPlan(db: Db, tenantId: string): Plan | null {
  const row = db.query<{ plan: string | null }, [string]>("SELECT plan FROM gitops_status WHERE tenant_id = ?").get(tenantId);
  return row?.plan ? (JSON.parse(row.plan) as Plan) : null;
}

/**
 * The sync's state when it needs looking at (degraded or failing), for the dashboard: read on every
 * refresh of it, so the errors are counted in SQL rather than parsed. Null when all is well, or
 * when no repository is connected.
 */
export function gitopsAttention(db: Db, tenantId: string): { state: "degraded" | "failing"; message: string | null; errors: number } | null {
  return db
    .query<{ state: "degraded" | "failing"; message: string | null; errors: number }, [string]>(
      "SELECT state, message, json_array_length(errors) AS errors FROM gitops_status WHERE tenant_id = ? AND state IN ('degraded', 'failing')",
    )
    .get(tenantId);
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

/** The state of the tenant's last sync in the history (interrupted ones count as failing); never without one. */
function lastFinishedState(db: Db, tenantId: string): SyncState {
  return db.query<{ state: SyncState }, [string]>("SELECT state FROM gitops_syncs WHERE tenant_id = ? ORDER BY id DESC LIMIT 1").get(tenantId)?.state ?? "never";
}

/**
 * Syncs that a stopped server left `syncing` (it died during them; or, within a running server, one
 * whose ending could not be written): each is written in the history as interrupted, the status
 * goes back to the state of the last sync that finished, says what happened, and the next periodic
 * sync is due at once. `tenantId`: that tenant only (a read that found `syncing` with no sync
 * running); else every tenant (at start, when no sync can be running). Returns how many.
 */
export function recoverInterruptedSyncs(db: Db, now: number, tenantId?: string): number {
  // cross-tenant: at start every tenant's row is looked at; otherwise the one tenant's.
  const stuck = tenantId
    ? db.query<StatusRow, [string]>("SELECT * FROM gitops_status WHERE tenant_id = ? AND state = 'syncing'").all(tenantId)
    : db.query<StatusRow, []>("SELECT * FROM gitops_status WHERE state = 'syncing'").all();
  for (const row of stuck) {
    db.transaction(() => {
      const last = lastFinishedState(db, row.tenant_id);
      // A row left before the sync's start was recorded (migration 0010) says less.
      const trigger = row.sync_trigger ?? "unknown";
      const started = row.sync_started_at ?? now;
      const which = row.sync_started_at === null ? "a sync" : `the ${trigger} sync started at ${new Date(started).toISOString()}`;
      const what = `${which} did not finish (${tenantId ? "its end could not be written" : "the server stopped during it"})`;
      db.query(
        `INSERT INTO gitops_syncs (tenant_id, commit_sha, author, message, trigger, state, counts, error, started_at, duration_ms)
         VALUES (?1, NULL, NULL, NULL, ?2, 'failing', '{}', ?3, ?4, ?5)`,
      ).run(row.tenant_id, trigger, `interrupted: ${what}`, started, Math.max(0, now - started));
      db.query(
        `UPDATE gitops_status SET state = ?1, message = ?2, next_sync_at = ?3, sync_started_at = NULL, sync_trigger = NULL,
           failures_total = failures_total + 1
         WHERE tenant_id = ?4`,
      ).run(last, `${what}; it runs again now`, now, row.tenant_id);
    })();
  }
  return stuck.length;
}

/**
 * The files of a local tree (POST /api/v1/gitops/plan) as a sync of that tree would read them: the
 * same rules (*.yaml, *.yml, *.json below the path) and limits. Paths are from the repository root.
 * Throws Invalid naming the file at fault.
 */
export function selectTreeFiles(files: readonly { path: string; content: string }[], root: string): PlanFile[] {
  const seen = new Set<string>();
  const selected: PlanFile[] = [];
  let below = 0;
  files.forEach((f, i) => {
    const p = f.path;
    if (p === "" || p.length > 1000 || p.startsWith("/") || /[\\\0\r\n]/.test(p) || p.split("/").some((s) => s === "" || s === "." || s === ".." || s === ".git")) {
      throw new Invalid(`files[${i}].path`, `must be a relative path inside the repository, with / between directories: ${JSON.stringify(p.slice(0, 200))}`);
    }
    if (seen.has(p)) throw new Invalid(`files[${i}].path`, `${p} is given twice`);
    seen.add(p);
    if (root === "" || p === root || p.startsWith(root + "/")) below++;
    if (isManifestPath(p, root)) selected.push({ path: p, text: f.content });
  });
  const over = treeLimitError(selected.map((f) => ({ path: f.path, size: Buffer.byteLength(f.text) })), root);
  if (over) throw new Invalid("files", over);
  // As for a sync: a tree with nothing below the path is a wrong path or an empty tree, not "delete everything".
  if (selected.length === 0) throw new Invalid("files", `no manifest file (*.yaml, *.yml, *.json) below ${root || "the root"}${below ? "" : `: ${files.length} files given, none below it`}; a sync of this tree would change nothing`);
  return selected;
}

/** About how much memory the kept readings may take, all tenants together. */
export const READINGS_MAX_BYTES = 64 * 1024 * 1024;
/** A reading's memory per byte of its text, about: 5,000 manifests of 320 bytes took 12 MB (measured). */
const READING_BYTES_PER_TEXT_BYTE = 8;

/**
 * Each tenant's file readings of the last tree it planned (see FileReading), so that a commit
 * changing one file of thousands reads and parses that one. The least recently planned tenants'
 * are dropped past `maxBytes` (estimated); a tree over it alone is not kept. Only a cache: any
 * plan without it is the same plan.
 */
export class Readings {
  private readonly byTenant = new Map<string, { readings: Map<string, FileReading>; bytes: number }>();
  private total = 0;
  constructor(private readonly maxBytes: number) {}

  get(tenantId: string): ReadonlyMap<string, FileReading> | undefined {
    return this.byTenant.get(tenantId)?.readings;
  }

  set(tenantId: string, readings: Map<string, FileReading>): void {
    this.drop(tenantId);
    let bytes = 0;
    for (const r of readings.values()) bytes += r.text.length * READING_BYTES_PER_TEXT_BYTE;
    if (bytes > this.maxBytes) return;
    this.byTenant.set(tenantId, { readings, bytes });
    this.total += bytes;
    for (const oldest of this.byTenant.keys()) {
      if (this.total <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  private drop(tenantId: string): void {
    const had = this.byTenant.get(tenantId);
    if (!had) return;
    this.total -= had.bytes;
    this.byTenant.delete(tenantId);
  }
}

export class GitopsSyncer {
  private readonly running = new Map<string, Promise<SyncResult>>();
  private readonly readings = new Readings(READINGS_MAX_BYTES);
  /** Called after a sync queued alerts (the dispatcher's kick; set by serve). */
  onNotify: () => void = () => {};
  /** The sync that starts once the running one ends (syncLatest), shared by every caller meanwhile. */
  private readonly queued = new Map<string, Promise<SyncResult>>();
  /** The last git work queued in each tenant's repository directory (inRepo). */
  private readonly repoWork = new Map<string, Promise<unknown>>();
  /** The tail of each tenant's queue of syncs and write-backs (exclusive). */
  private readonly turns = new Map<string, Promise<unknown>>();
  constructor(readonly deps: SyncDeps) {}

  /** Syncs the tenant's repository now; while one runs (or waits its turn), answers that one's result. */
  sync(tenantId: string, trigger: SyncTrigger, confirmPrune?: string): Promise<SyncResult> {
    const busy = this.running.get(tenantId);
    if (busy) return busy;
    const run = this.exclusive(tenantId, () => this.run(tenantId, trigger, { confirmPrune })).finally(() => this.running.delete(tenantId));
    this.running.set(tenantId, run);
    return run;
  }

  /**
   * A sync whose fetch starts after this call: a push announced by a webhook may be newer than the
   * head a running sync fetched, so after a running one another runs (one, however many ask meanwhile).
   */
  syncLatest(tenantId: string, trigger: SyncTrigger): Promise<SyncResult> {
    const busy = this.running.get(tenantId);
    if (!busy) return this.sync(tenantId, trigger);
    let next = this.queued.get(tenantId);
    if (!next) {
      next = busy
        .catch(() => undefined)
        .then(() => {
          this.queued.delete(tenantId);
          return this.sync(tenantId, trigger);
        });
      this.queued.set(tenantId, next);
    }
    return next;
  }

  /**
   * Settles when no sync or write-back runs or waits to run (serve's stop: a webhook's syncs are
   * nobody's to await, and a write-back that pushed must get to apply its commit).
   */
  async idle(): Promise<void> {
    while (this.running.size || this.queued.size || this.turns.size) {
      await Promise.allSettled([...this.running.values(), ...this.queued.values(), ...this.turns.values()]);
    }
  }

  /** Whether a sync or a write-back of the tenant runs or waits its turn. */
  isRunning(tenantId: string): boolean {
    return this.running.has(tenantId) || this.turns.has(tenantId);
  }

  /**
   * Runs `fn` when no other sync or write-back of the tenant runs: one at a time per tenant, in
   * the order asked; at once (in this call) when none does. A write-back holds the turn from its
   * fetch to the end of the sync of its commit.
   */
  exclusive<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.turns.get(tenantId);
    let mine: Promise<T>;
    if (before) mine = before.then(fn);
    else {
      try {
        mine = fn();
      } catch (e) {
        mine = Promise.reject(e);
      }
    }
    const tail = mine.then(
      () => {},
      () => {},
    );
    this.turns.set(tenantId, tail);
    void tail.then(() => {
      if (this.turns.get(tenantId) === tail) this.turns.delete(tenantId);
    });
    return mine;
  }

  /** A sync for a caller that holds the tenant's turn (exclusive): a write-back applying its commit. */
  syncHeld(tenantId: string, trigger: SyncTrigger, opts: SyncOptions): Promise<SyncResult> {
    return this.run(tenantId, trigger, opts);
  }

  /** The status as GET /api/v1/gitops/status answers it; a `syncing` left by a sync that is not running is recovered first. */
  status(tenantId: string) {
    const s = gitopsStatus(this.deps.db, tenantId);
    if (s.state !== "syncing" || this.isRunning(tenantId)) return s;
    recoverInterruptedSyncs(this.deps.db, this.deps.now(), tenantId);
    return gitopsStatus(this.deps.db, tenantId);
  }

  /** What a sync of a local tree (its files, paths from the repository root) would do, applying nothing. */
  planTree(tenantId: string, files: readonly { path: string; content: string }[]): Plan {
    const { db } = this.deps;
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const selected = selectTreeFiles(files, settings.path);
    return computePlan(null, settings.path, selected, currentJobs(db, tenantId), settings.prune).plan;
  }

  /** What a sync of the branch head would do, applying nothing. */
  async plan(tenantId: string): Promise<Plan & { message?: string }> {
    const { db } = this.deps;
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const previous = this.readings.get(tenantId);
    const { head, files } = await this.inRepo(tenantId, async () => {
      const head = await this.fetch(tenantId, settings);
      return { head, files: await readManifestFiles(repoDir(this.deps.dataDir, tenantId), head.commit, settings.path, knownTexts(previous, settings.path)) };
    });
    const { plan, readings } = computePlan(head.commit, settings.path, files, currentJobs(db, tenantId), settings.prune, previous);
    this.readings.set(tenantId, readings);
    return plan;
  }

  /**
   * Runs git work in the tenant's repository directory after the work queued there before: a plan
   * (GET /api/v1/gitops/plan), a sync and a write-back never run git in one directory at the same time.
   */
  inRepo<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.repoWork.get(tenantId) ?? Promise.resolve()).catch(() => undefined).then(work);
    const settled = run.catch(() => undefined);
    this.repoWork.set(tenantId, settled);
    void settled.then(() => {
      if (this.repoWork.get(tenantId) === settled) this.repoWork.delete(tenantId);
    });
    return run;
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
      caFile: this.deps.caFile ?? null,
      // Trust on first use: the host key of the first contact is kept, and required from then on.
      onHostKeyPinned: (entries) => {
        if (pinGitopsHostKeys(this.deps.db, tenantId, s.url, entries, this.deps.now())) {
          this.deps.log?.info("gitops ssh host key pinned on first use", { tenant_id: tenantId, host_keys: entries.map((e) => e.split(/\s+/).slice(0, 2).join(" ")).join(", ") });
        }
      },
    };
  }

  /** Fetches the branch head into the tenant's repository directory (the caller queues it: inRepo). */
  fetch(tenantId: string, s: GitopsSettings): Promise<Head> {
    return fetchHead(repoDir(this.deps.dataDir, tenantId), this.remote(tenantId, s));
  }

  /**
   * The plan of `commit` (already fetched) against the jobs as they are, and whether the prune
   * guard stops it; applies nothing. Throws SyncFailure or GitError for a commit with no manifest.
   */
  async prepare(tenantId: string, settings: GitopsSettings, commit: string, deletes: SyncOptions["deletes"] = []): Promise<PreparedSync> {
    const { db } = this.deps;
    // The files whose blobs the last plan read are neither read nor parsed again.
    const previous = this.readings.get(tenantId);
    const files = await this.inRepo(tenantId, () => readManifestFiles(repoDir(this.deps.dataDir, tenantId), commit, settings.path, knownTexts(previous, settings.path)));
    if (files.length === 0) throw new SyncFailure(`no manifest files below ${settings.path || "the root"} in ${commit.slice(0, 12)}: nothing changed`);
    const current = currentJobs(db, tenantId);
    const { plan, desired, readings } = computePlan(commit, settings.path, files, current, settings.prune, previous);
    this.readings.set(tenantId, readings);
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
    return { plan, desired, current, guard };
  }

  private async run(tenantId: string, trigger: SyncTrigger, opts: SyncOptions): Promise<SyncResult> {
    const { confirmPrune } = opts;
    const { db, now } = this.deps;
    const started = now();
    const settings = getGitopsSettings(db, this.deps.secrets, tenantId);
    const before = readStatus(db, tenantId);
    db.query(
      `INSERT INTO gitops_status (tenant_id, state, sync_started_at, sync_trigger) VALUES (?1, 'syncing', ?2, ?3)
       ON CONFLICT (tenant_id) DO UPDATE SET state = 'syncing', sync_started_at = ?2, sync_trigger = ?3`,
    ).run(tenantId, started, trigger);
    let head: Head | null = null;
    const applied = (commit: string | null) =>
      before !== null && commit !== null && commit === before.commit_sha && before.last_sync_at !== null && settings.updated_at <= before.last_sync_at &&
      (before.state === "ok" || before.state === "degraded") && !confirmPrune;
    const unchanged = (): SyncResult => {
      // Still a success: the commit stays applied (what /metrics' last success time says).
      db.query("UPDATE gitops_status SET state = ?1, last_sync_at = ?2, last_success_at = ?2, message = NULL, sync_started_at = NULL, sync_trigger = NULL WHERE tenant_id = ?3").run(before!.state, now(), tenantId);
      return { state: before!.state, commit: before!.commit_sha, message: null, plan: before!.plan ? (JSON.parse(before!.plan) as Plan) : null };
    };
    try {
      // An unchanged head (and settings) costs one look at the remote's branch: no fetch, no parse.
      if (!opts.head && applied(before?.commit_sha ?? null)) {
        const dir = repoDir(this.deps.dataDir, tenantId);
        const remote = this.remote(tenantId, settings);
        if (applied(await this.inRepo(tenantId, () => remoteHead(dir, remote)))) return unchanged();
      }
      head = opts.head ?? (await this.inRepo(tenantId, () => this.fetch(tenantId, settings)));
      if (applied(head.commit)) return unchanged();
      const { plan, desired, current, guard } = await this.prepare(tenantId, settings, head.commit, opts.deletes);
      if (guard && confirmPrune !== head.commit) return this.finish(tenantId, settings, trigger, started, head, "failing", guard, plan, before);
      const sources = new Map(current.map((j) => [`${j.spec.namespace}/${j.spec.name}`, j]));
      const commit = head.commit;
      // One transaction: the whole plan or nothing. A job the service refuses is an error of its file.
      try {
        db.transaction(() => {
          const t = now();
          const unchanged: string[] = [];
          for (const d of desired) {
            const had = sources.get(`${d.namespace}/${d.name}`);
            // Unchanged: the plan read its manifest with the parser putJob uses and found the stored
            // spec, so putJob would validate the same document and write nothing. Only its source moves.
            if (d.action === "unchanged" && had) {
              if (had.source_path === d.path && had.source_repository === settings.url && had.git_paused === d.git_paused) unchanged.push(had.id);
              else setSource(db, tenantId, d, settings.url, commit);
              continue;
            }
            try {
              // putJob is a transaction of its own: a job it refuses leaves nothing behind.
              putJob(db, tenantId, d.namespace, d.name, d.doc, t, { bySync: true });
              setSource(db, tenantId, d, settings.url, commit);
            } catch (e) {
              if (!(e instanceof AppError)) throw e;
              plan.errors.push({ path: d.path, line: 1, column: 1, message: e.message });
            }
          }
          // One statement for all of them: the commit they are now from.
          db.query("UPDATE jobs SET source_commit = ?1 WHERE tenant_id = ?2 AND id IN (SELECT value FROM json_each(?3)) AND source_commit IS NOT ?1").run(commit, tenantId, JSON.stringify(unchanged));
          for (const del of plan.delete) {
            deleteJob(db, tenantId, del.namespace, del.name, { bySync: true });
          }
        })();
      } catch (e) {
        // The service changed the jobs' state in memory as it went: none of it was stored.
        this.deps.rolledBack?.();
        throw e;
      }
      return this.finish(tenantId, settings, trigger, started, head, plan.errors.length ? "degraded" : "ok", null, plan, before);
    } catch (e) {
      if (!(e instanceof SyncFailure) && !(e instanceof Error && (e.name === "GitError" || e.name === "TargetRefused"))) {
        this.finish(tenantId, settings, trigger, started, head, "failing", "internal error", null, before);
        throw e;
      }
      return this.finish(tenantId, settings, trigger, started, head, "failing", e.message, null, before);
    }
  }

  private finish(tenantId: string, settings: GitopsSettings, trigger: SyncTrigger, started: number, head: Head | null, state: FinishedState, message: string | null, plan: Plan | null, before: StatusRow | null): SyncResult {
    const { db, now } = this.deps;
    const t = now();
    const queued = db.transaction(() => {
      const previous = lastFinishedState(db, tenantId);
      db.query(
        `UPDATE gitops_status SET state = $state, commit_sha = $commit, last_sync_at = $now, message = $message, errors = $errors, plan = $plan,
           sync_started_at = NULL, sync_trigger = NULL,
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
      const syncId = db
        .query<{ id: number }, (string | number | null)[]>(
          `INSERT INTO gitops_syncs (tenant_id, commit_sha, author, message, trigger, state, counts, error, started_at, duration_ms)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id`,
        )
        .get(tenantId, head?.commit ?? null, head?.author ?? null, head?.message ?? null, trigger, state, JSON.stringify(plan ? planCounts(plan) : {}), message, started, t - started)!.id;
      // The alert goes out with the state it is about, or not at all.
      return queueGitopsAlert(db, this.deps.baseUrl, {
        tenantId,
        syncId,
        state,
        previousState: previous,
        repository: settings.url,
        branch: settings.branch,
        // The commit this sync read: none when the fetch failed.
        commit: head?.commit ?? null,
        lastGoodCommit: state === "ok" ? (head?.commit ?? null) : (before?.last_good_commit ?? null),
        message,
        errors: plan?.errors ?? [],
        at: t,
      });
    })();
    if (queued) this.onNotify();
    if (state === "failing") this.deps.log?.warn("gitops sync failed", { tenant_id: tenantId, reason: message ?? "" });
    return { state, commit: head?.commit ?? null, message, plan };
  }
}

/** What stops a sync as a whole (no manifest below the path): reported, nothing applied. */
export class SyncFailure extends Error {
  override name = "SyncFailure";
}

/** A job as the sync knows it: what the plan compares, and the row its source is written to. */
interface SyncedJob extends CurrentJob {
  id: string;
  source_repository: string | null;
}

function currentJobs(db: Db, tenantId: string): SyncedJob[] {
  return db
    .query<JobRow, [string]>("SELECT * FROM jobs WHERE tenant_id = ?")
    .all(tenantId)
    .map((r) => {
      const j = rowToJob(r);
      return { spec: j, managed: j.source !== null, source_path: j.source?.path ?? null, git_paused: j.source_paused, id: j.id, source_repository: j.source?.repository ?? null };
    });
}

/** Where a job's manifest is: the remote, its file, the commit, and what the file says of spec.paused. */
function setSource(db: Db, tenantId: string, d: DesiredJob, repository: string, commit: string): void {
  db.query(
    "UPDATE jobs SET source_repository = ?1, source_path = ?2, source_commit = ?3, source_paused = ?4 WHERE tenant_id = ?5 AND namespace = ?6 AND name = ?7",
  ).run(repository, d.path, commit, d.git_paused ? 1 : 0, tenantId, d.namespace, d.name);
}

/** The texts of the blobs the last plan read, for readManifestFiles. */
function knownTexts(previous: ReadonlyMap<string, FileReading> | undefined, root: string) {
  return previous ? (path: string, sha: string) => previous.get(readingKey(root, path, sha))?.text : undefined;
}
