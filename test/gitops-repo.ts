// A bare repository in a temp dir and a working clone that commits and pushes to it, for the
// GitOps tests (file:// remotes; test/git.ts of the testkit adds http and ssh).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Db } from "../src/db";
import { findTenant } from "../src/tenants/tenants";
import { tempDir } from "./helpers";

function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: "Alice", GIT_AUTHOR_EMAIL: "alice@example.com", GIT_COMMITTER_NAME: "Alice", GIT_COMMITTER_EMAIL: "alice@example.com", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

export class TestRepo {
  readonly root = tempDir("crontopus-git-");
  readonly bare = join(this.root, "remote.git");
  readonly work = join(this.root, "work");
  readonly url = `file://${this.bare}`;
  constructor(readonly branch = "main") {
    git(this.root, "init", "--bare", "--quiet", "-b", branch, this.bare);
    git(this.root, "init", "--quiet", "-b", branch, this.work);
  }
  /** Writes (string) or deletes (null) files, commits them and pushes; returns the commit. */
  commit(message: string, files: Record<string, string | null>, opts: { force?: boolean } = {}): string {
    for (const [path, text] of Object.entries(files)) {
      const full = join(this.work, path);
      if (text === null) rmSync(full, { force: true });
      else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, text);
      }
    }
    git(this.work, "add", "-A");
    git(this.work, "commit", "--quiet", "--allow-empty", "-m", message);
    git(this.work, "push", "--quiet", ...(opts.force ? ["--force"] : []), this.bare, `HEAD:refs/heads/${this.branch}`);
    return git(this.work, "rev-parse", "HEAD");
  }
  /** A force push of a new root commit holding only `files` (e.g. none: an empty tree). */
  forcePushOrphan(message: string, files: Record<string, string>): string {
    git(this.work, "checkout", "--quiet", "--orphan", `orphan-${Date.now()}`);
    git(this.work, "rm", "-rf", "--quiet", "--ignore-unmatch", ".");
    return this.commit(message, files, { force: true });
  }
  rename(from: string, to: string, message: string): string {
    mkdirSync(dirname(join(this.work, to)), { recursive: true });
    git(this.work, "mv", from, to);
    return this.commit(message, {});
  }
  close() {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function manifest(name: string, schedule = "@daily", extra: { namespace?: string; command?: string } = {}): string {
  return [
    "apiVersion: crontopus/v1",
    "kind: Job",
    "metadata:",
    `  name: ${name}`,
    ...(extra.namespace ? [`  namespace: ${extra.namespace}`] : []),
    "spec:",
    `  schedule: "${schedule}"`,
    ...(extra.command ? [`  command: ${extra.command}`] : []),
    "",
  ].join("\n");
}

/**
 * No periodic sync of the tenant before `until` (a day away): the scheduler syncs a new connection
 * within a second, which races a test's own syncs (a sync a request shares, a commit applied behind
 * the test's back, the history's rows). Called before the tenant connects: connecting keeps a status
 * row that is there, so no window is left. A test can check the hold is kept: GET
 * /api/v1/gitops/status answers `next_sync_at` = the ISO time returned.
 */
export function holdPeriodicSyncs(db: Db, tenantSlug: string, until = Date.now() + 86_400_000): string {
  const tenant = findTenant(db, tenantSlug);
  if (!tenant) throw new Error(`no tenant ${tenantSlug}`);
  db.query("INSERT INTO gitops_status (tenant_id, next_sync_at) VALUES (?, ?)").run(tenant.id, until);
  return new Date(until).toISOString();
}
