// jobs list | get | apply | export | delete | pause | resume
import { defineCommand } from "citty";
import { readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { isManifest, manifestYaml, parseJob, parseJobDocuments, withDefaults } from "../jobs/manifest";
import type { JobJson } from "../jobs/json";
import { formatDuration } from "../jobs/schedule";
import { ApiError, clientArgs, clientCommand, connect, parseJobRef, repeated, type Client } from "./client";
import { formatTime, printFields, printJson, printTable } from "./output";
import { CliError, UsageError } from "./run";
import { choiceFlag } from "./args";

const refArg = { type: "positional", required: true, description: "NAMESPACE/NAME, or NAME in namespace default", valueHint: "NS/NAME" } as const;

const list = clientCommand({
  meta: { name: "list", description: "List jobs, ordered by namespace and name" },
  args: {
    namespace: { type: "string", alias: "n", description: "Only this namespace", valueHint: "NS" },
    status: { type: "string", description: "Only this status: new, up, running, late, down, failed, paused" },
    label: { type: "string", alias: "l", description: "Only jobs with this label: KEY=VALUE, or KEY alone for any value; repeat to require several", valueHint: "KEY=VALUE" },
    search: { type: "string", alias: "q", description: "Text in the name, namespace or command (case-insensitive)", valueHint: "TEXT" },
    limit: { type: "string", description: "Jobs per page, 1-500 (default 50; 500 with --all)", valueHint: "N" },
    all: { type: "boolean", description: "Follow next_cursor to the last page (pages of 500 unless --limit)" },
    ...clientArgs,
  },
  async run({ args, rawArgs }) {
    const limit = args.limit === undefined ? (args.all ? 500 : undefined) : Number(args.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 500)) throw new UsageError("--limit: expected a whole number from 1 to 500");
    const client = connect(args);
    const query = new URLSearchParams();
    if (args.namespace) query.set("namespace", args.namespace);
    if (args.status) query.set("status", choiceFlag("--status", args.status, (await import("../jobs/jobs")).JOB_STATUSES));
    for (const l of repeated(rawArgs, ["label", "l"])) query.append("label", l);
    if (args.search) query.set("q", args.search);
    if (limit !== undefined) query.set("limit", String(limit));

    const jobs: JobJson[] = [];
    let cursor: string | null = null;
    do {
      if (cursor) query.set("cursor", cursor);
      const page: { jobs: JobJson[]; next_cursor: string | null } = await client.request("GET", `/api/v1/jobs?${query}`);
      jobs.push(...page.jobs);
      cursor = page.next_cursor;
    } while (cursor && args.all);

    if (args.json) return printJson({ jobs, next_cursor: cursor });
    // The SOURCE column only when some job listed is from Git: a tenant without GitOps sees the table as it was.
    const fromGit = jobs.some((j) => j.source);
    printTable(
      ["NAMESPACE", "NAME", "STATUS", "SCHEDULE", "NEXT RUN", ...(fromGit ? ["SOURCE"] : [])],
      jobs.map((j) => [j.namespace, j.name, j.status, j.schedule, j.enabled ? j.next_runs[0] : "-", ...(fromGit ? [sourceMark(j)] : [])]),
    );
    if (cursor) process.stderr.write(`more jobs follow: pass --all, or a larger --limit\n`);
  },
});

/** `git` for a job from Git (`git, override` while paused or resumed against it); `-` for the others. */
function sourceMark(job: JobJson): string {
  if (!job.source) return "-";
  return job.paused_override ? "git, override" : "git";
}

/** The status, and for a job paused or resumed against its manifest, that this is a runtime override. */
export function statusLine(job: Pick<JobJson, "status" | "paused" | "paused_override">): string {
  if (!job.paused_override) return job.status;
  return `${job.status} (runtime override; Git says ${job.paused ? "active" : "paused"})`;
}

/** Where Git defines the job: `<repository> <path>@<commit>`. */
export function sourceLine(source: NonNullable<JobJson["source"]>): string {
  return `${source.repository} ${source.path ?? "?"}@${source.commit ? source.commit.slice(0, 12) : "?"}`;
}

const pairs = (o: Record<string, string> | null | undefined) =>
  o && Object.keys(o).length ? Object.entries(o).map(([k, v]) => `${k}=${v}`).join(", ") : null;

/** The job as a crontopus/v1 manifest that `jobs apply` takes back: the one parser reads the API's JSON. */
function manifestOf(job: JobJson): string {
  return manifestYaml(withDefaults(parseJob(job).fields));
}

const get = clientCommand({
  meta: { name: "get", description: "Show one job: schedule, ping URL, next runs" },
  args: {
    ref: refArg,
    output: { type: "string", alias: "o", description: "json (the API's shape, as --json) or yaml (a manifest for jobs apply)", valueHint: "FORMAT" },
    ...clientArgs,
  },
  async run({ args }) {
    const format = args.output ?? (args.json ? "json" : "text");
    if (!["json", "yaml", "text"].includes(format)) throw new UsageError(`--output: expected json or yaml, got "${format}"`);
    const ref = parseJobRef(args.ref);
    const job = await connect(args).request<JobJson>("GET", ref.path);
    if (format === "json") return printJson(job);
    if (format === "yaml") return void process.stdout.write(manifestOf(job));
    const [first, ...rest] = job.next_runs;
    printFields([
      ["job", `${job.namespace}/${job.name}`],
      ["status", statusLine(job)],
      ...(job.source
        ? ([
            ["source", sourceLine(job.source)],
            ["", "managed by Git: change its manifest, not the job (pause and resume are runtime overrides a sync keeps)"],
          ] as [string, string][])
        : []),
      ["schedule", job.schedule],
      ["", job.schedule_description],
      ["timezone", job.timezone],
      ["command", job.command === null ? null : [job.command, ...job.args].join(" ")],
      ["working dir", job.working_dir],
      ["labels", pairs(job.labels)],
      ["grace", formatDuration(job.grace)],
      ["timeout", job.timeout === null ? null : formatDuration(job.timeout)],
      ["agent", job.agent ? pairs(job.agent.selector) : null],
      ["ping URL", job.ping_url],
      // A paused job still runs on its host (only its alerts are silenced); a disabled one does not.
      ["next runs", job.enabled ? first : "none while disabled"],
      ...(job.enabled ? rest.map((r): [string, string] => ["", r]) : []),
      ["updated", formatTime(job.updated_at)],
    ]);
  },
});

interface Doc {
  /** Where it came from, for messages: `jobs.yaml (document 2)`. */
  where: string;
  value?: unknown;
  /** Set when the file could not be read or parsed. */
  error?: string;
}

const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

/** Every manifest file under `dir`, sorted by path; dot-directories (.git, .github) are skipped. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else if (MANIFEST_EXTENSIONS.includes(extname(entry.name).toLowerCase())) out.push(path);
  }
  return out;
}

/** Splits a file's text into documents with the server's own parser: several YAML documents (`---`), or a list. */
function splitDocuments(text: string, source: string, json: boolean): Doc[] {
  let docs: ReturnType<typeof parseJobDocuments>;
  try {
    docs = parseJobDocuments(text, json ? "application/json" : undefined);
  } catch (e) {
    return [{ where: source, error: `${source}: ${(e as Error).message.replace(/^body: /, "")}` }];
  }
  // A broken YAML document fails alone: the file's other documents are still applied.
  return docs.map((d, i) => {
    const where = `${source} (document ${i + 1})`;
    return "error" in d ? { where, error: `${where}: ${d.error.message.replace(/^body: /, "")}` } : { where, value: d.value };
  });
}

const isObject = (v: unknown): v is Record<string, any> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The namespace and name a document declares (as the server reads them), or what is wrong. */
export function declaredRef(doc: unknown): { namespace: string; name: string } | string {
  if (!isObject(doc)) return "expected a job (a mapping)";
  const [from, prefix] = isManifest(doc) ? [isObject(doc.metadata) ? doc.metadata : {}, "metadata."] : [doc, ""];
  const name = from.name;
  const namespace = from.namespace ?? "default";
  if (name === undefined || name === null || name === "") return `no name: set ${prefix}name`;
  if (typeof name !== "string") return `${prefix}name: expected a string`;
  if (typeof namespace !== "string" || !namespace) return `${prefix}namespace: expected a string`;
  return { namespace, name };
}

interface Applied {
  namespace?: string;
  name?: string;
  source: string;
  action: "created" | "configured" | "unchanged" | "failed";
  warnings: string[];
  error?: string;
  /** The commit a GitOps write-back pushed for it. */
  write_back?: WriteBackJson;
}

interface WriteBackJson {
  commit: string;
  branch: string;
}

/** " (committed abc1234 to main)" for an answer that carries a write-back (GitOps), else "". */
const committedNote = (w: WriteBackJson | undefined) => (w ? ` (committed ${w.commit.slice(0, 7)} to ${w.branch})` : "");

async function applyOne(client: Client, doc: Doc): Promise<Applied> {
  if (doc.error) return { source: doc.where, action: "failed", warnings: [], error: doc.error };
  const ref = declaredRef(doc.value);
  if (typeof ref === "string") return { source: doc.where, action: "failed", warnings: [], error: `${doc.where}: ${ref}` };
  const { path } = parseJobRef(`${ref.namespace}/${ref.name}`);
  try {
    const res = await client.send<{ warnings?: string[]; changed?: boolean; write_back?: WriteBackJson }>("PUT", path, { json: doc.value });
    const action = res.status === 201 ? "created" : res.data.changed === false ? "unchanged" : "configured";
    return { ...ref, source: doc.where, action, warnings: res.data.warnings ?? [], ...(res.data.write_back ? { write_back: res.data.write_back } : {}) };
  } catch (e) {
    // Only the document is at fault for a 4xx other than 401; anything else stops the run.
    if (!(e instanceof ApiError) || e.status === 401 || e.status >= 500) throw e;
    return { ...ref, source: doc.where, action: "failed", warnings: [], error: `${ref.namespace}/${ref.name}: ${e.message}` };
  }
}

async function readDocuments(target: string): Promise<Doc[]> {
  if (target === "-") {
    const text = await Bun.stdin.text();
    return splitDocuments(text, "stdin", false);
  }
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    throw new CliError(`cannot read ${target}: no such file or directory`);
  }
  const files = isDir ? walk(target) : [target];
  if (isDir && files.length === 0) throw new CliError(`${target}: no .yaml, .yml or .json files in it`);
  const docs: Doc[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await Bun.file(file).text();
    } catch {
      docs.push({ where: file, error: `cannot read ${file}` });
      continue;
    }
    docs.push(...splitDocuments(text, file, extname(file).toLowerCase() === ".json"));
  }
  return docs;
}

const apply = clientCommand({
  meta: { name: "apply", description: "Create or replace the jobs in manifest files (YAML or JSON)" },
  args: {
    filename: { type: "string", alias: "f", required: true, description: "A file, a directory (read recursively) or - for stdin; repeatable", valueHint: "PATH" },
    ...clientArgs,
  },
  async run({ args, rawArgs }) {
    const targets = repeated(rawArgs, ["filename", "f"]);
    const client = connect(args);
    const docs: Doc[] = [];
    for (const t of targets.length ? targets : [args.filename]) docs.push(...(await readDocuments(t)));
    if (docs.length === 0) throw new CliError("no job documents found");

    const results: Applied[] = [];
    for (const doc of docs) {
      const r = await applyOne(client, doc);
      results.push(r);
      const ref = `${r.namespace}/${r.name}`;
      for (const w of r.warnings) process.stderr.write(`warning: ${ref}: ${w}\n`);
      if (r.error) process.stderr.write(`error: ${r.error}\n`);
      else if (!args.json) console.log(`job ${ref} ${r.action}${committedNote(r.write_back)}`);
    }
    if (args.json) printJson(results);
    const failed = results.filter((r) => r.action === "failed").length;
    if (failed) throw new CliError(`${failed} of ${results.length} job documents failed`);
  },
});

const exportJobs = clientCommand({
  meta: { name: "export", description: "Write the jobs as manifests, one file per job at DIR/<namespace>/<name>.yaml, for a GitOps repository" },
  args: {
    dir: { type: "string", required: true, description: "The directory to write into (created if missing)", valueHint: "DIR" },
    namespace: { type: "string", alias: "n", description: "Only this namespace", valueHint: "NS" },
    force: { type: "boolean", description: "Overwrite files that differ from the job (without it, such a file stops the export before anything is written)" },
    ...clientArgs,
  },
  async run({ args }) {
    const query = args.namespace ? `?${new URLSearchParams({ namespace: args.namespace })}` : "";
    const { files } = await connect(args).request<{ files: { path: string; content: string }[] }>("GET", `/api/v1/jobs/export${query}`);
    const { writeExport } = await import("./export");
    const written = writeExport(args.dir, files, args.force === true);
    if (args.json) return printJson({ files: written });
    for (const w of written) console.log(`${w.action} ${w.file}`);
    console.log(`${files.length} job${files.length === 1 ? "" : "s"} exported to ${args.dir}`);
  },
});

function jobAction(name: "delete" | "pause" | "resume", description: string, done: string) {
  return clientCommand({
    meta: { name, description },
    args: { ref: refArg, ...clientArgs },
    async run({ args }) {
      const ref = parseJobRef(args.ref);
      const client = connect(args);
      const job = name === "delete" ? await client.request<{ write_back?: WriteBackJson } | null>("DELETE", ref.path) : await client.request<JobJson>("POST", `${ref.path}/${name}`);
      if (args.json) return printJson(job ?? { namespace: ref.namespace, name: ref.name, deleted: true });
      const override = (job as JobJson | null)?.paused_override ? ` (runtime override; Git says ${(job as JobJson).paused ? "active" : "paused"}, and a sync keeps it)` : "";
      // A delete through GitOps write-back answers the commit that removed the manifest.
      console.log(`job ${ref.namespace}/${ref.name} ${done}${override}${committedNote((job as { write_back?: WriteBackJson } | null)?.write_back)}`);
    },
  });
}

export default defineCommand({
  meta: { name: "jobs", description: "List, show, apply, export, pause, resume and delete jobs" },
  subCommands: {
    list,
    get,
    apply,
    export: exportJobs,
    delete: jobAction("delete", "Delete a job and its history", "deleted"),
    pause: jobAction("pause", "Pause a job: check-ins are kept, nothing alerts", "paused"),
    resume: jobAction("resume", "Resume a paused job", "resumed"),
  },
});
