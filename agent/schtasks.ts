// The agent's Windows backend: reconciling the \Crontopus\ folder of Task Scheduler with the
// desired jobs through schtasks.exe, one task per job (its XML from taskxml.ts). schtasks runs
// through the CommandRunner seam (spawn.ts); tests replace it with a fake that plays schtasks.
import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandRunner } from "./spawn";
import { folderPath, readMarker, taskName, taskXml, utf16le, type TaskEntry, type TaskHost } from "./taskxml";

export type DesiredTask = TaskEntry;

export interface InstalledTask {
  /** Full task path, e.g. \Crontopus\ops.db-backup. */
  name: string;
  /** From the crontopus:job marker; null for a task in the folder that Crontopus did not write. */
  jobId: string | null;
  hash: string | null;
}

export interface ApplyResult {
  jobId: string;
  state: "applied" | "drifted" | "error";
  message?: string;
}

/** schtasks failed in a way that leaves nothing to reconcile against. */
export class SchtasksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchtasksError";
  }
}

export interface BackendOptions {
  /** Task folder, default \Crontopus\ (the task XML's URI names the same folder). */
  folder?: string;
  /** Where XML files for /Create are written (and removed). */
  tmpDir: string;
  host: TaskHost;
  /** Per schtasks call; default 30 s. */
  timeoutMs?: number;
  /** The schtasks executable; default "schtasks". */
  schtasks?: string;
}

export class TaskSchedulerBackend {
  private readonly folder: string;
  private readonly timeoutMs: number;
  private readonly exe: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: BackendOptions,
  ) {
    this.folder = folderPath(opts.folder ?? "\\Crontopus\\");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.exe = opts.schtasks ?? "schtasks";
  }

  /** The tasks directly in the folder, read from `schtasks /Query /XML ONE`. */
  async list(): Promise<InstalledTask[]> {
    const argv = [this.exe, "/Query", "/XML", "ONE"];
    let r: Awaited<ReturnType<CommandRunner["run"]>>;
    try {
      r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
    } catch (e) {
      throw new SchtasksError(`schtasks /Query: ${errorText(e)}`);
    }
    if (r.code !== 0) throw new SchtasksError(`schtasks /Query failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`);
    // Each task is preceded by a comment naming it: <!-- \Crontopus\ops.db-backup -->.
    const out: InstalledTask[] = [];
    const prefix = this.folder.toLowerCase();
    for (const m of r.stdout.matchAll(/<!--\s*(\\[^\r\n]*?)\s*-->\s*(<Task[\s>][\s\S]*?<\/Task>)/g)) {
      const name = m[1]!;
      const rest = name.slice(this.folder.length);
      if (!name.toLowerCase().startsWith(prefix) || rest === "" || rest.includes("\\")) continue;
      const marker = readMarker(m[2]!);
      out.push({ name, jobId: marker?.jobId ?? null, hash: marker?.hash ?? null });
    }
    return out;
  }

  /**
   * Make the folder hold exactly the desired tasks: create or replace those whose marker
   * differs, delete Crontopus tasks no longer desired, then read the folder back. A job whose
   * task could not be written keeps its old task (it is not deleted).
   */
  async apply(desired: DesiredTask[]): Promise<ApplyResult[]> {
    const installed = await this.list();
    const byName = new Map(installed.map((t) => [t.name.toLowerCase(), t]));
    const results = new Map<string, ApplyResult>();
    const written: Array<{ jobId: string; name: string; hash: string; replaced: InstalledTask | undefined }> = [];
    const keep = new Set<string>(); // task names (lower case) that stay
    const failedJobs = new Set<string>();
    const names = new Map<string, number>();
    for (const d of desired) names.set(safeName(d).toLowerCase(), (names.get(safeName(d).toLowerCase()) ?? 0) + 1);

    for (const d of desired) {
      const fail = (message: string) => {
        failedJobs.add(d.jobId);
        results.set(d.jobId, { jobId: d.jobId, state: "error", message });
      };
      let name: string;
      let xml: string;
      try {
        name = this.folder + taskName(d.ref);
        xml = taskXml(d, this.opts.host, this.folder);
      } catch (e) {
        fail(errorText(e));
        continue;
      }
      keep.add(name.toLowerCase());
      if (names.get(safeName(d).toLowerCase())! > 1) {
        fail(`several jobs map to the task name ${name}`);
        continue;
      }
      const hash = readMarker(xml)!.hash;
      const current = byName.get(name.toLowerCase());
      if (current?.jobId === d.jobId && current.hash === hash) {
        results.set(d.jobId, { jobId: d.jobId, state: "applied", message: "unchanged" });
        continue;
      }
      const problem = await this.create(name, xml);
      if (problem) fail(problem);
      else written.push({ jobId: d.jobId, name, hash, replaced: current });
    }

    const deleted: Array<{ jobId: string; name: string }> = [];
    for (const t of installed) {
      // Leave tasks Crontopus did not write, tasks still wanted, and a failed job's old task.
      if (t.jobId === null || keep.has(t.name.toLowerCase()) || failedJobs.has(t.jobId)) continue;
      const problem = await this.delete(t.name);
      if (problem) results.set(`${t.jobId} ${t.name}`, { jobId: t.jobId, state: "error", message: problem });
      else deleted.push({ jobId: t.jobId, name: t.name });
    }

    if (written.length > 0 || deleted.length > 0) {
      let after: Map<string, InstalledTask> | null = null;
      let readError = "";
      try {
        after = new Map((await this.list()).map((t) => [t.name.toLowerCase(), t]));
      } catch (e) {
        readError = errorText(e);
      }
      for (const w of written) {
        const did = w.replaced ? `replaced ${w.name} (it had ${describeMarker(w.replaced)})` : `created ${w.name}`;
        const found = after?.get(w.name.toLowerCase());
        if (!after) {
          results.set(w.jobId, { jobId: w.jobId, state: "applied", message: `${did}; could not read it back: ${readError}` });
        } else if (!found) {
          results.set(w.jobId, { jobId: w.jobId, state: "drifted", message: `${did}, but Task Scheduler lists no such task afterwards` });
        } else if (found.jobId !== w.jobId || found.hash !== w.hash) {
          results.set(w.jobId, { jobId: w.jobId, state: "drifted", message: `${did}, but Task Scheduler holds ${describeMarker(found)}, expected hash ${w.hash}` });
        } else {
          results.set(w.jobId, { jobId: w.jobId, state: "applied", message: did });
        }
      }
      for (const d of deleted) {
        const still = after?.has(d.name.toLowerCase());
        results.set(`${d.jobId} ${d.name}`, {
          jobId: d.jobId,
          state: still ? "drifted" : "applied",
          message: still ? `deleted ${d.name}, but Task Scheduler still lists it` : `deleted ${d.name}`,
        });
      }
    }

    const order = [...desired.map((d) => d.jobId), ...results.keys()];
    return [...new Set(order)].flatMap((k) => (results.has(k) ? [results.get(k)!] : []));
  }

  /** Delete every task Crontopus wrote in the folder. */
  async uninstall(): Promise<void> {
    const problems: string[] = [];
    for (const t of await this.list()) {
      if (t.jobId === null) continue;
      const problem = await this.delete(t.name);
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) throw new SchtasksError(problems.join("; "));
  }

  /** schtasks /Create /XML from a UTF-16 file; returns a problem, or null. */
  private async create(name: string, xml: string): Promise<string | null> {
    const file = join(this.opts.tmpDir, `crontopus-${randomUUID()}.xml`);
    const argv = [this.exe, "/Create", "/TN", name, "/XML", file, "/F"];
    try {
      await writeFile(file, utf16le(xml));
      const r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
      if (r.code !== 0) return `schtasks /Create ${name} failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`;
      return null;
    } catch (e) {
      return `schtasks /Create ${name}: ${errorText(e)}`;
    } finally {
      await rm(file, { force: true });
    }
  }

  private async delete(name: string): Promise<string | null> {
    const argv = [this.exe, "/Delete", "/TN", name, "/F"];
    try {
      const r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
      if (r.code !== 0) return `schtasks /Delete ${name} failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`;
      return null;
    } catch (e) {
      return `schtasks /Delete ${name}: ${errorText(e)}`;
    }
  }
}

function safeName(d: DesiredTask): string {
  try {
    return taskName(d.ref);
  } catch {
    return `\u0000${d.jobId}`;
  }
}

function describeMarker(t: InstalledTask): string {
  return t.jobId === null ? "no crontopus marker" : `marker ${t.jobId} ${t.hash}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function oneLine(s: string): string {
  return s.trim().replace(/\s*\r?\n\s*/g, " ") || "(no output)";
}
