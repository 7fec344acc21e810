// The plan of a sync: what the manifests of a commit would do to the tenant's jobs. Pure: files
// and current jobs in, plan out; the manifests are read with the one parser (src/jobs/manifest.ts).
//  - Files without a crontopus/… apiVersion are skipped (listed), so the repository may hold other YAML.
//  - The namespace is metadata.namespace, else the first directory below the path, else default.
//  - A file that does not parse or validate is an error with its path, line and column; the jobs it
//    held stay as they are (neither updated nor deleted). Two documents defining one job are both
//    errors, and neither is applied.
//  - A job is known by namespace and name: a renamed file with the same metadata is the same job.
//    One that exists and is not from Git is adopted (id, ping token and history kept).
//  - Git-managed jobs with no document: delete with prune on, orphan with it off.
import { AppError, Invalid } from "../errors";
import { isManifest, parseJob, parseJobDocuments, withDefaults, type JobSpec } from "../jobs/manifest";

export interface PlanFile {
  /** From the repository root. */
  path: string;
  text: string;
  /** The blob's id in Git, when known: a reading of the same blob at the same path is reused. */
  sha?: string;
}

/** A job of the tenant as the plan compares it. */
export interface CurrentJob {
  spec: JobSpec;
  /** From Git (source_repository set): only these may be deleted or orphaned. */
  managed: boolean;
  source_path: string | null;
  /** Git's spec.paused as the last sync read it (null for jobs not from Git, or synced before it was kept). */
  git_paused: boolean | null;
}

export interface FileError {
  path: string;
  line: number;
  column: number;
  message: string;
}

export interface Change {
  field: string;
  from: unknown;
  to: unknown;
}

export interface PlanItem {
  namespace: string;
  name: string;
  path: string | null;
}

export interface PlanUpdate extends PlanItem {
  changes: Change[];
}

export interface Plan {
  commit: string | null;
  create: PlanItem[];
  update: PlanUpdate[];
  adopt: PlanUpdate[];
  delete: PlanItem[];
  orphan: PlanItem[];
  unchanged: number;
  skipped: string[];
  errors: FileError[];
}

/** A job a commit defines: what applying it writes. */
export interface DesiredJob {
  namespace: string;
  name: string;
  path: string;
  /** The document as parsed, for putJob: every rule of the API holds. */
  doc: Record<string, unknown>;
  spec: JobSpec;
  /** What the manifest says of spec.paused; `spec.paused` is what applying it writes (see computePlan). */
  git_paused: boolean;
  /** What the plan does with it (set by computePlan). */
  action?: "create" | "update" | "adopt" | "unchanged";
}

export interface PlanResult {
  plan: Plan;
  /** Every job the commit defines without error (create, update, adopt, unchanged). */
  desired: DesiredJob[];
  /** The reading of each file of this tree that has a sha, for the next plan (see FileReading). */
  readings: Map<string, FileReading>;
}

/**
 * What one file says: a pure function of the root, the file's path and its text, so the reading
 * of a blob is kept from one plan to the next (keyed by readingKey) and a commit that changes one
 * file of thousands parses that one file. The objects are shared: never changed after reading.
 */
export interface FileReading {
  text: string;
  found: readonly DesiredJob[];
  errors: readonly FileError[];
  skipped: boolean;
  /** The file has an error: the jobs from it stay as they are. */
  kept: boolean;
  /** Jobs (namespace/name) whose document is broken: they stay as they are. */
  keptKeys: readonly string[];
}

/** Where a file's reading is kept: the same root, path and blob read the same. */
export function readingKey(root: string, path: string, sha: string): string {
  return `${root}\0${path}\0${sha}`;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const key = (ns: string, name: string) => `${ns}/${name}`;

/** The plan counts, as the status shows them. */
export function planCounts(p: Plan) {
  return { create: p.create.length, update: p.update.length, unchanged: p.unchanged, adopt: p.adopt.length, delete: p.delete.length, orphan: p.orphan.length };
}

/**
 * The plan of `files` (the manifests below `root`) against the tenant's jobs. `prune` turns
 * the git-managed jobs no file defines into deletes; else they are orphans.
 */
export function computePlan(
  commit: string | null,
  root: string,
  files: PlanFile[],
  current: CurrentJob[],
  prune: boolean,
  previous?: ReadonlyMap<string, FileReading>,
): PlanResult {
  const errors: FileError[] = [];
  const skipped: string[] = [];
  const found: DesiredJob[] = [];
  // What an error leaves as it is: the jobs of a broken file, a job whose document is broken.
  const keptPaths = new Set<string>();
  const keptKeys = new Set<string>();
  const readings = new Map<string, FileReading>();
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const k = file.sha === undefined ? null : readingKey(root, file.path, file.sha);
    const r = (k !== null ? previous?.get(k) : undefined) ?? readFile(file, root);
    if (k !== null) readings.set(k, r);
    // Copies: the plan below sets each job's paused and action, and the reading is shared.
    for (const d of r.found) found.push({ ...d });
    errors.push(...r.errors);
    if (r.skipped) skipped.push(file.path);
    if (r.kept) keptPaths.add(file.path);
    for (const x of r.keptKeys) keptKeys.add(x);
  }

  // Duplicates: every definition reported, none applied.
  const byKey = new Map<string, DesiredJob[]>();
  for (const d of found) byKey.set(key(d.namespace, d.name), [...(byKey.get(key(d.namespace, d.name)) ?? []), d]);
  const desired: DesiredJob[] = [];
  for (const [k, defs] of byKey) {
    if (defs.length === 1) {
      desired.push(defs[0]!);
      continue;
    }
    keptKeys.add(k);
    for (const d of defs) {
      const others = defs.filter((o) => o !== d).map((o) => o.path);
      errors.push({ ...locate(fileText(files, d.path), 0, "metadata.name"), path: d.path, message: `job ${k} is also defined in ${others.join(", ")}: neither is applied` });
    }
  }

  const byCurrent = new Map(current.map((j) => [key(j.spec.namespace, j.spec.name), j]));
  const plan: Plan = { commit, create: [], update: [], adopt: [], delete: [], orphan: [], unchanged: 0, skipped, errors };
  for (const d of desired) {
    const existing = byCurrent.get(key(d.namespace, d.name));
    const item = { namespace: d.namespace, name: d.name, path: d.path };
    if (!existing) {
      d.action = "create";
      plan.create.push(item);
      continue;
    }
    // Pause and resume are a runtime override a sync does not undo: a job paused or resumed
    // against what Git said keeps its state, as does one adopted or synced before Git's word was
    // kept. Otherwise it follows Git, so a commit that flips spec.paused is applied. (With two
    // values, a commit can only end an override by agreeing with it.)
    const followsGit = existing.managed && existing.git_paused !== null && existing.spec.paused === existing.git_paused;
    const paused = followsGit ? d.git_paused : existing.spec.paused;
    d.spec = { ...d.spec, paused };
    d.doc = { ...d.doc, spec: { ...(d.doc.spec as object), paused } };
    const changes = diffSpecs(existing.spec, d.spec);
    d.action = !existing.managed ? "adopt" : changes.length ? "update" : "unchanged";
    if (d.action === "adopt") plan.adopt.push({ ...item, changes });
    else if (d.action === "update") plan.update.push({ ...item, changes });
    else plan.unchanged++;
  }
  const defined = new Set(desired.map((d) => key(d.namespace, d.name)));
  for (const j of current) {
    const k = key(j.spec.namespace, j.spec.name);
    if (!j.managed || defined.has(k) || keptKeys.has(k) || (j.source_path !== null && keptPaths.has(j.source_path))) continue;
    (prune ? plan.delete : plan.orphan).push({ namespace: j.spec.namespace, name: j.spec.name, path: j.source_path });
  }
  const order = (a: PlanItem, b: PlanItem) => (key(a.namespace, a.name) < key(b.namespace, b.name) ? -1 : 1);
  for (const list of [plan.create, plan.update, plan.adopt, plan.delete, plan.orphan]) list.sort(order);
  return { plan, desired, readings };
}

function fileText(files: PlanFile[], path: string): string {
  return files.find((f) => f.path === path)?.text ?? "";
}

function readFile(file: PlanFile, root: string): FileReading {
  const found: DesiredJob[] = [];
  const errors: FileError[] = [];
  const keptKeys: string[] = [];
  let kept = false;
  const reading = (skipped: boolean): FileReading => ({ text: file.text, found, errors, skipped, kept, keptKeys });
  const claimsCrontopus = /crontopus\//.test(file.text);
  let docs: ({ value: unknown } | { error: Invalid })[];
  try {
    docs = file.text.trim() === "" ? [] : parseJobDocuments(file.text, file.path.endsWith(".json") ? "application/json" : "application/yaml");
  } catch (e) {
    // A file that does not parse at all is ours only if it says so.
    if (claimsCrontopus && e instanceof AppError) {
      errors.push({ path: file.path, ...locate(file.text, 0, "", e.message), message: e.message });
      kept = true;
      return reading(false);
    }
    return reading(true);
  }
  let ours = 0;
  docs.forEach((d, index) => {
    if ("error" in d) {
      if (!claimsCrontopus) return;
      ours++;
      errors.push({ path: file.path, ...locate(file.text, index, "", d.error.message), message: d.error.message });
      kept = true;
      return;
    }
    const doc = d.value;
    if (!isObj(doc) || typeof doc.apiVersion !== "string" || !doc.apiVersion.startsWith("crontopus/")) return;
    ours++;
    const meta = isObj(doc.metadata) ? doc.metadata : {};
    try {
      if (!isManifest(doc)) throw new Invalid("apiVersion", "is required");
      const parsed = parseJob(doc);
      const namespace = parsed.fields.namespace ?? namespaceFromPath(root, file.path);
      const spec = withDefaults({ ...parsed.fields, namespace });
      found.push({ namespace, name: spec.name, path: file.path, doc: { ...doc, metadata: { ...meta, namespace } }, spec, git_paused: spec.paused });
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      const field = e instanceof Invalid ? e.field : "";
      errors.push({ path: file.path, ...locate(file.text, index, field, e.message), message: e.message });
      kept = true;
      if (typeof meta.name === "string") keptKeys.push(key(typeof meta.namespace === "string" ? meta.namespace : safeNamespace(root, file.path), meta.name));
    }
  });
  return reading(ours === 0);
}

function safeNamespace(root: string, path: string): string {
  try {
    return namespaceFromPath(root, path);
  } catch {
    return "default";
  }
}

/** The first directory below the root, else default. */
export function namespaceFromPath(root: string, path: string): string {
  const rel = root && path.startsWith(root + "/") ? path.slice(root.length + 1) : path;
  const parts = rel.split("/");
  if (parts.length < 2) return "default";
  const dir = parts[0]!;
  if (!NAME_RE.test(dir) || dir.length > 63) throw new Invalid("metadata.namespace", `is not set, and the directory ${JSON.stringify(dir)} is not a namespace name (lower-case letters, digits, "-")`);
  return dir;
}

/**
 * Where an error is: the line and column a parse error names, else the line of the field's key
 * in the document, else the document's first line.
 */
function locate(text: string, docIndex: number, field: string, message = ""): { line: number; column: number } {
  const m = /line (\d+)(?:, column (\d+))?/.exec(message);
  if (m) return { line: Number(m[1]), column: m[2] ? Number(m[2]) : 1 };
  const lines = text.split(/\r?\n/);
  const starts = documentStarts(lines);
  const start = starts[Math.min(docIndex, starts.length - 1)] ?? 0;
  const end = starts[docIndex + 1] ?? lines.length;
  const leaf = field.split(".").filter((s) => !/^\d+$/.test(s)).at(-1);
  if (leaf) {
    const re = new RegExp(`^(\\s*-?\\s*)("?)${leaf.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\2\\s*:`);
    for (let i = start; i < end; i++) {
      const hit = re.exec(lines[i]!);
      if (hit) return { line: i + 1, column: hit[1]!.length + 1 };
    }
  }
  return { line: start + 1, column: 1 };
}

/** The 0-based first line of each YAML document of a text. */
function documentStarts(lines: string[]): number[] {
  const starts = [0];
  lines.forEach((l, i) => {
    if (/^---(\s|$)/.test(l)) {
      // A leading `---` opens the first document rather than a second one.
      const before = lines.slice(starts.at(-1)!, i).every((x) => /^\s*(#.*)?$/.test(x) || x.startsWith("%"));
      if (before) starts[starts.length - 1] = i + 1;
      else starts.push(i + 1);
    }
  });
  return starts;
}

/** The field-level differences between a job's spec and a manifest's, with the API's field names. */
export function diffSpecs(a: JobSpec, b: JobSpec): Change[] {
  const fields: [string, (s: JobSpec) => unknown][] = [
    ["labels", (s) => s.labels],
    ["annotations", (s) => s.annotations],
    ["schedule", (s) => s.schedule],
    ["timezone", (s) => s.timezone],
    ["command", (s) => s.command],
    ["args", (s) => s.args],
    ["working_dir", (s) => s.working_dir],
    ["env", (s) => s.env],
    ["grace", (s) => s.grace_s],
    ["timeout", (s) => s.timeout_s],
    ["enabled", (s) => s.enabled],
    ["paused", (s) => s.paused],
    ["agent.selector", (s) => s.agent_selector],
    ["user", (s) => s.user],
    ["alerts.after", (s) => s.alert_after],
    ["alerts.min_runtime", (s) => s.min_runtime_s],
    ["alerts.start_grace", (s) => s.start_grace_s],
    ["alerts.renotify", (s) => s.renotify_s],
    ["alerts.channels", (s) => s.channels],
  ];
  const changes: Change[] = [];
  for (const [field, get] of fields) {
    const from = get(a);
    const to = get(b);
    if (from !== to && stable(from) !== stable(to)) changes.push({ field, from, to });
  }
  return changes;
}

function stable(v: unknown): string {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    return JSON.stringify(Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1))));
  }
  return JSON.stringify(v);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
