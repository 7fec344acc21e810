// Write-back (docs/gitops.md, "Write-back"): with `write_back` on, a change to a git-managed job
// through the API, the console or the CLI becomes a commit of its manifest on the branch (author:
// the user, committer: Crontopus), pushed, then applied by the sync of that commit. A push the
// branch rejects (someone pushed first) is made again once on the new head when the file did not
// change there; otherwise, 409 write_back_conflict. Nothing is half applied: the job changes only
// through the sync of a pushed commit, and a commit is pushed only when that sync will apply it
// (its plan is computed before the push). Every step runs in the tenant's turn (GitopsSyncer.
// exclusive), so no sync or other write-back of the tenant runs in between.
//
// The one service function every surface calls for PUT, PATCH and DELETE of a job (editJob): for
// a job that is not git-managed, or with write-back off, it is putJob/patchJob/deleteJob as
// before (409 managed_by_git for a git-managed job).
import type { Db } from "../db";
import { NotFound, WriteBackConflict, WriteBackFailed, WriteBackRefused } from "../errors";
import { deleteJob, findJob, patchJob, pauseJob, putJob, requestedSpec, resumeJob, type Job, type WriteResult } from "../jobs/jobs";
import { parseJob, type JobSpec } from "../jobs/manifest";
import type { TenantPrincipal } from "../auth/principal";
import { commitFile, fileAt, GitError, pushCommit, type Head, type Ident } from "./git";
import { computePlan, diffSpecs, type Change } from "./plan";
import { rewriteManifest } from "./rewrite";
import { findGitopsSettings, getGitopsSettings, type GitopsSettings } from "./settings";
import { repoDir, SyncFailure, type GitopsSyncer, type SyncState } from "./sync";

export type JobEdit = { kind: "put"; doc: unknown } | { kind: "patch"; doc: unknown } | { kind: "delete" };

/** What a write-back did: the commit pushed and the state of the sync that applied it. */
export interface WriteBack {
  commit: string;
  path: string;
  branch: string;
  sync: { state: SyncState; message: string | null };
}

export interface EditResult {
  /** The job after the change; null after a delete. */
  result: WriteResult | null;
  /** Null when nothing went to Git (not git-managed, or nothing but the runtime pause changed). */
  writeBack: WriteBack | null;
}

/** Who a commit is by: the user's name and email; for an API token, the token's name and its user's email. */
export function commitAuthor(db: Db, p: TenantPrincipal): Ident {
  if (p.kind === "token" && p.tokenId) {
    const token = db.query<{ name: string }, [string, string]>("SELECT name FROM api_tokens WHERE tenant_id = ? AND id = ?").get(p.tenantId, p.tokenId);
    if (token?.name) return { name: token.name, email: p.email };
  }
  return { name: p.name || p.email.split("@")[0]!, email: p.email };
}

/** The committer of every write-back: Crontopus, at the server's own host. */
export function committer(baseUrl: string | undefined): Ident {
  let host = "localhost";
  try {
    if (baseUrl) host = new URL(baseUrl).hostname || host;
  } catch {}
  return { name: "Crontopus", email: `crontopus@${host}` };
}

/**
 * PUT, PATCH or DELETE of the job namespace/name. A git-managed job with write-back on goes
 * through Git (see the top of this file); any other job is written at once.
 */
export async function editJob(syncer: GitopsSyncer, tenantId: string, namespace: string, name: string, edit: JobEdit, author: Ident): Promise<EditResult> {
  const { db } = syncer.deps;
  const job = findJob(db, tenantId, namespace, name);
  if (!writesBack(syncer, tenantId, job)) return { result: writeAtOnce(syncer, tenantId, namespace, name, edit), writeBack: null };
  // A document that does not parse or validate is refused before waiting for the tenant's turn.
  if (edit.kind !== "delete") requested(db, tenantId, job!, edit);
  return syncer.exclusive(tenantId, () => editHeld(syncer, tenantId, namespace, name, edit, author));
}

function writesBack(syncer: GitopsSyncer, tenantId: string, job: Job | null): boolean {
  return !!job?.source?.path && findGitopsSettings(syncer.deps.db, syncer.deps.secrets, tenantId)?.write_back === true;
}

function writeAtOnce(syncer: GitopsSyncer, tenantId: string, namespace: string, name: string, edit: JobEdit): WriteResult | null {
  const { db, now } = syncer.deps;
  if (edit.kind === "put") return putJob(db, tenantId, namespace, name, edit.doc, now());
  if (edit.kind === "patch") return patchJob(db, tenantId, namespace, name, edit.doc, now());
  deleteJob(db, tenantId, namespace, name);
  return null;
}

function requested(db: Db, tenantId: string, job: Job, edit: { kind: "put" | "patch"; doc: unknown }) {
  const { namespace, name } = job;
  const patch = edit.kind === "patch";
  return requestedSpec(db, tenantId, namespace, name, parseJob(edit.doc, { partial: patch, namespace, name }), patch ? job : undefined);
}

/** Whether two specs differ in more than the runtime pause (which write-back never commits). */
const specChanges = (a: JobSpec, b: JobSpec): Change[] => diffSpecs(a, b).filter((c) => c.field !== "paused");

async function editHeld(syncer: GitopsSyncer, tenantId: string, namespace: string, name: string, edit: JobEdit, author: Ident): Promise<EditResult> {
  const { db, now, dataDir } = syncer.deps;
  // Read again in our turn: a sync may have changed the job, a user the settings.
  const job = findJob(db, tenantId, namespace, name);
  if (!job) throw new NotFound(`job ${namespace}/${name}`);
  if (!writesBack(syncer, tenantId, job)) return { result: writeAtOnce(syncer, tenantId, namespace, name, edit), writeBack: null };
  const settings = getGitopsSettings(db, syncer.deps.secrets, tenantId);
  const want = edit.kind === "delete" ? null : requested(db, tenantId, job, edit);
  const changes = want ? specChanges(job, want.spec) : [];
  // Pause and resume are a runtime override for a git-managed job: applied here, never committed.
  if (want && changes.length === 0) {
    const after = setPaused(syncer, tenantId, job, want.spec.paused);
    return { result: { job: after, created: false, changed: after.paused !== job.paused, warnings: want.warnings }, writeBack: null };
  }

  const path = job.source!.path!;
  const dir = repoDir(dataDir, tenantId);
  const ref = { namespace, name };
  const deletes = want ? [] : [ref];
  const message = commitMessage(job, changes, author, want === null);
  const remote = syncer.remote(tenantId, settings);
  // Each git step queued with the other git work in the tenant's directory (a plan may fetch between two).
  const git = <T>(work: () => Promise<T>) => syncer.inRepo(tenantId, work);
  const fetchHead = async () => {
    try {
      return await git(() => syncer.fetch(tenantId, settings));
    } catch (e) {
      throw e instanceof GitError || (e instanceof Error && e.name === "TargetRefused") ? new WriteBackFailed(`nothing was changed: ${e.message}`) : e;
    }
  };

  /** The commit of the change on top of `head`, checked to be what the sync of it will apply. */
  const makeCommit = async (head: Head) => {
    const file = await git(() => fileAt(dir, head.commit, path));
    const short = head.commit.slice(0, 12);
    if (!file) throw new WriteBackConflict(path, head.commit, `${path} is not on ${settings.branch} at ${short} any more: sync first (crontopus gitops sync), then make the change again`);
    // The job's document must be what this server has: else it changed upstream and is not synced yet.
    const { plan, desired } = computePlan(head.commit, settings.path, [{ path, text: file.text }], [], false);
    const error = plan.errors.find((e) => e.path === path);
    if (error) throw new WriteBackRefused(path, `${path} has an error at ${short} (line ${error.line}: ${error.message}): fix it in the repository first`);
    const there = desired.find((d) => d.namespace === namespace && d.name === name);
    if (!there) throw new WriteBackConflict(path, head.commit, `${path} does not define ${namespace}/${name} at ${short} any more: sync first (crontopus gitops sync), then make the change again`);
    if (specChanges(job, there.spec).length) {
      throw new WriteBackConflict(path, head.commit, `${namespace}/${name} changed in ${path} at ${short}, which is not synced yet: sync first (crontopus gitops sync), then make the change again`);
    }
    // The file keeps its own `paused`: the runtime override is not written to Git.
    const text = rewriteManifest({ path, text: file.text }, settings.path, ref, want ? { ...want.spec, paused: there.spec.paused } : null);
    const commit = await git(() => commitFile(dir, { parent: head.commit, path, text, mode: file.mode, author, committer: committer(syncer.deps.baseUrl), message, time: now() }));
    await checkApplies(syncer, tenantId, settings, commit, path, ref, want?.spec ?? null);
    return { commit, file };
  };

  let head = await fetchHead();
  let { commit, file } = await makeCommit(head);
  let pushed = await git(() => push(dir, remote, commit));
  if (!pushed) {
    // Someone pushed first: once more on their head, if they left the file alone.
    head = await fetchHead();
    const now = await git(() => fileAt(dir, head.commit, path));
    if (!now || now.sha !== file.sha) {
      throw new WriteBackConflict(path, head.commit, `${path} changed on ${settings.branch} in ${head.commit.slice(0, 12)} while this change was being pushed: nothing was committed; make the change again on the new version`);
    }
    ({ commit, file } = await makeCommit(head));
    pushed = await git(() => push(dir, remote, commit));
    if (!pushed) {
      head = await fetchHead();
      throw new WriteBackConflict(path, head.commit, `${settings.branch} moved twice while this change was being pushed (now at ${head.commit.slice(0, 12)}): nothing was committed; try again`);
    }
  }

  const r = await syncer.syncHeld(tenantId, "write_back", { head: { commit, author: `${author.name} <${author.email}>`, message: message.split("\n")[0]! }, deletes });
  if (r.state === "failing") syncer.deps.log?.warn("gitops write-back: the sync of the pushed commit failed", { tenant_id: tenantId, commit, reason: r.message ?? "" });
  const writeBack: WriteBack = { commit, path, branch: settings.branch, sync: { state: r.state, message: r.message } };
  if (!want) return { result: null, writeBack };
  const after = setPaused(syncer, tenantId, findJob(db, tenantId, namespace, name) ?? job, want.spec.paused);
  return { result: { job: after, created: false, changed: true, warnings: want.warnings }, writeBack };
}

/** Pushes; false when the branch moved. Any other failure is a 502: nothing was changed. */
async function push(dir: string, remote: Parameters<typeof pushCommit>[1], commit: string): Promise<boolean> {
  try {
    return (await pushCommit(dir, remote, commit)).pushed;
  } catch (e) {
    if (e instanceof GitError || (e instanceof Error && e.name === "TargetRefused")) throw new WriteBackFailed(`nothing was changed: ${e.message}`);
    throw e;
  }
}

/**
 * Refuses a commit whose sync would not apply the change: its plan must write the job as asked
 * (or delete it), and neither an empty path nor the prune guard may stop it.
 */
async function checkApplies(syncer: GitopsSyncer, tenantId: string, settings: GitopsSettings, commit: string, path: string, ref: { namespace: string; name: string }, spec: JobSpec | null): Promise<void> {
  let prepared;
  try {
    prepared = await syncer.prepare(tenantId, settings, commit, spec ? [] : [ref]);
  } catch (e) {
    if (!(e instanceof SyncFailure || e instanceof GitError)) throw e;
    // No manifest left below the path (or the path itself gone): what a sync refuses to apply.
    if (e instanceof SyncFailure || /does not exist in|is empty/.test(e.message)) {
      throw new WriteBackRefused(
        path,
        `${ref.namespace}/${ref.name} is the last job below ${settings.path || "the repository root"}: a sync reads an empty path as a mistake and changes nothing, so this delete would never apply. Disconnect the repository (the jobs stay) to delete it`,
      );
    }
    throw new WriteBackRefused(path, `the sync of this change would fail (${e.message}); nothing was committed`);
  }
  if (prepared.guard) throw new WriteBackRefused(path, `the sync of this change would stop at the prune guard (the branch deletes other jobs too): sync and confirm that first; nothing was committed`);
  const key = `${ref.namespace}/${ref.name}`;
  if (spec === null) {
    if (!prepared.plan.delete.some((d) => `${d.namespace}/${d.name}` === key)) throw new WriteBackRefused(path, `the sync of this change would not delete ${key}; nothing was committed`);
    return;
  }
  const error = prepared.plan.errors.find((e) => e.path === path);
  const mine = prepared.desired.find((d) => `${d.namespace}/${d.name}` === key);
  if (error || !mine || specChanges(mine.spec, spec).length) {
    throw new WriteBackRefused(path, `the sync of this change would not write ${key} as asked${error ? ` (${error.message})` : ""}; nothing was committed`);
  }
}

function setPaused(syncer: GitopsSyncer, tenantId: string, job: Job, paused: boolean): Job {
  const { db, now } = syncer.deps;
  if (job.paused === paused) return findJob(db, tenantId, job.namespace, job.name) ?? job;
  return (paused ? pauseJob : resumeJob)(db, tenantId, job.namespace, job.name, now());
}

function commitMessage(job: Job, changes: Change[], author: Ident, deleted: boolean): string {
  const ref = `${job.namespace}/${job.name}`;
  if (deleted) return `Delete job ${ref}\n\nDeleted in Crontopus by ${author.name} <${author.email}>.\n`;
  return `Update job ${ref}\n\nChanged in Crontopus by ${author.name} <${author.email}>: ${changes.map((c) => c.field).join(", ")}.\n`;
}
