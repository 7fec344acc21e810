// What `crontopus exec --job <id>` needs, written by the agent next to each managed entry,
// and the spool where exec leaves results it could not deliver. Kept free of heavy imports:
// exec loads this on every run of every job.
//
// Layout under a state directory (the agent's own, or for a job that runs as another user,
// <agent state>/users/<user>, owned by that user, mode 0700):
//   jobs/<job id>.json    JobCache, mode 0600
//   spool/<time>-<run id>.json   SpoolRecord, written atomically (temp file + rename)
//
// A job that runs as another user gets its own directory with only its own jobs' files: its
// check-in token records check-ins for that one job and can do nothing else. The agent's token
// never leaves root's config.
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface JobCache {
  job_id: string;
  /** "namespace/name", for messages. */
  ref: string;
  /** The server's base URL. */
  server: string;
  /** The job's own check-in token (Bearer for POST /api/v1/checkins). */
  checkin_token: string;
  env: Record<string, string>;
  working_dir: string | null;
  timeout_s: number | null;
  schedule: string;
  timezone: string;
  /** The entry fires on a superset of the job's times: run only when isDue says so. */
  gate: boolean;
  /** Largest output kept (head and tail), in bytes. */
  output_limit: number;
  /** The host's name, shown as the run's source. */
  host: string;
}

/** One check-in exec could not deliver: the body of POST /api/v1/checkins. */
export interface SpoolRecord {
  job: string;
  kind: "start" | "success" | "fail";
  run_id: string;
  at: number;
  started_at?: number;
  duration_ms?: number;
  exit_code?: number;
  output?: string;
  timed_out?: boolean;
  host?: string;
}

export const DEFAULT_OUTPUT_LIMIT = 100 * 1024;

export function jobCachePath(stateDir: string, jobId: string): string {
  return join(stateDir, "jobs", `${jobId}.json`);
}

export function userStateDir(agentStateDir: string, user: string): string {
  return join(agentStateDir, "users", user);
}

export async function readJobCache(stateDir: string, jobId: string): Promise<JobCache | null> {
  try {
    return JSON.parse(await readFile(jobCachePath(stateDir, jobId), "utf8")) as JobCache;
  } catch {
    return null;
  }
}

export interface Owner {
  uid: number;
  gid: number;
}

/** Writes a file atomically with mode 0600, owned by `owner` when given (root only). */
export async function writePrivate(path: string, text: string, owner?: Owner): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  if (owner) await chown(tmp, owner.uid, owner.gid);
  await rename(tmp, path);
}

/** A private directory (0700), owned by `owner` when given. */
export async function privateDir(path: string, owner?: Owner): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  if (owner) await chown(path, owner.uid, owner.gid);
}

/** Writes the caches of the jobs given and removes those of other jobs in the directory. */
export async function syncJobCaches(stateDir: string, caches: JobCache[], owner?: Owner): Promise<void> {
  const dir = join(stateDir, "jobs");
  // A user's directory is theirs alone; the agent's own may be opened up to 0711 for them to pass through.
  if (owner) await privateDir(stateDir, owner);
  else await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await privateDir(dir, owner);
  const keep = new Set<string>();
  for (const c of caches) {
    keep.add(`${c.job_id}.json`);
    const text = JSON.stringify(c, null, 2) + "\n";
    const path = jobCachePath(stateDir, c.job_id);
    const old = await readFile(path, "utf8").catch(() => null);
    if (old !== text) await writePrivate(path, text, owner);
  }
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.endsWith(".json") && !keep.has(f)) await rm(join(dir, f), { force: true });
  }
}

export async function spool(stateDir: string, record: SpoolRecord): Promise<string> {
  const dir = join(stateDir, "spool");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Written by exec as the job's user, read and removed by the agent (root): both can.
  const path = join(dir, `${String(record.at).padStart(15, "0")}-${record.run_id}-${record.kind}.json`);
  await writePrivate(path, JSON.stringify(record));
  return path;
}

/** Spooled records, oldest first (a start before its finish). */
export async function listSpool(stateDir: string): Promise<{ path: string; record: SpoolRecord }[]> {
  const dir = join(stateDir, "spool");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".json")).sort((a, b) => {
    // Same time and run: start first.
    const ka = a.replace(/-start\.json$/, "-0").replace(/-(success|fail)\.json$/, "-1");
    const kb = b.replace(/-start\.json$/, "-0").replace(/-(success|fail)\.json$/, "-1");
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const out: { path: string; record: SpoolRecord }[] = [];
  for (const n of names) {
    const path = join(dir, n);
    try {
      out.push({ path, record: JSON.parse(await readFile(path, "utf8")) as SpoolRecord });
    } catch {
      // Half-written by a crash before the rename cannot happen; anything else unreadable is left for a human.
    }
  }
  return out;
}
