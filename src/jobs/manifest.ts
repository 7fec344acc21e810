// Job input: the one parser for the API (JSON or YAML), the CLI and GitOps.
// Two shapes are accepted: a crontopus/v1 manifest (apiVersion/kind/metadata/spec) and the
// API's own plain JSON (what GET returns, so it can be PUT back). docs/job-manifest.md is
// the user-facing spec; keep the two in step.
import { checkCount, checkLength, LIMITS } from "../limits";
import { Invalid } from "../errors";
import { formatDuration, parseDuration, parseSchedule, validateTimezone } from "./schedule";

export interface JobSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  schedule: string;
  timezone: string;
  command: string | null;
  args: string[];
  working_dir: string | null;
  env: Record<string, string>;
  grace_s: number;
  timeout_s: number | null;
  enabled: boolean;
  paused: boolean;
  agent_selector: Record<string, string> | null;
  /** The host user whose crontab runs the job (agent mode, agent running as root); null: the agent's user. */
  user: string | null;
  /** Alert after this many failed runs in a row. */
  alert_after: number;
  /** A successful run shorter than this counts as failed. */
  min_runtime_s: number | null;
  /** The start signal must come within this long of the expected time. */
  start_grace_s: number | null;
  /** Remind the channels this often while the job stays down or failed. */
  renotify_s: number | null;
  /** Channel names to alert; null means all of the tenant's channels. */
  channels: string[] | null;
}

export interface ParsedJob {
  /** Only what the input set, so PATCH can merge; create merges onto withDefaults. */
  fields: Partial<JobSpec>;
  /** metadata.tenant from a legacy manifest, for the caller to compare with the real tenant. */
  tenant?: string;
  warnings: string[];
  format: "manifest" | "plain";
}

export interface ParseJobOptions {
  /** PATCH: nothing is required. */
  partial?: boolean;
  /** From the URL (PUT/PATCH): fills in a missing name, must match a given one. */
  name?: string;
  namespace?: string;
}

export interface JobManifest {
  apiVersion: "crontopus/v1";
  kind: "Job";
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    schedule: string;
    timezone: string;
    command?: string;
    args?: string[];
    workingDir?: string;
    env?: Record<string, string>;
    grace: string;
    timeout?: string;
    enabled: boolean;
    paused: boolean;
    agent?: { selector: Record<string, string> };
    user?: string;
    alerts?: { after?: number; minRuntime?: string; startGrace?: string; renotify?: string; channels?: string[] };
  };
}

/** Grace period when none is given. healthchecks defaults to 1h; cron jobs that ping at
 *  their end usually finish within minutes, and an hour is a long time to learn a backup
 *  did not run. */
export const DEFAULT_GRACE_S = 300;

export function withDefaults(fields: Partial<JobSpec>): JobSpec {
  if (!fields.name) throw new Invalid("name", "is required");
  if (!fields.schedule) throw new Invalid("schedule", "is required");
  return {
    name: fields.name,
    namespace: fields.namespace ?? "default",
    labels: { ...fields.labels },
    annotations: { ...fields.annotations },
    schedule: fields.schedule,
    timezone: fields.timezone ?? "UTC",
    command: fields.command ?? null,
    args: [...(fields.args ?? [])],
    working_dir: fields.working_dir ?? null,
    env: { ...fields.env },
    grace_s: fields.grace_s ?? DEFAULT_GRACE_S,
    timeout_s: fields.timeout_s ?? null,
    enabled: fields.enabled ?? true,
    paused: fields.paused ?? false,
    agent_selector: fields.agent_selector ? { ...fields.agent_selector } : null,
    user: fields.user ?? null,
    alert_after: fields.alert_after ?? 1,
    min_runtime_s: fields.min_runtime_s ?? null,
    start_grace_s: fields.start_grace_s ?? null,
    renotify_s: fields.renotify_s ?? null,
    channels: fields.channels ? [...fields.channels] : null,
  };
}

/** The canonical crontopus/v1 manifest. Empty maps and lists and null fields are left out:
 *  parseJob reads their absence as the same default. */
export function toManifest(job: JobSpec): JobManifest {
  const metadata: JobManifest["metadata"] = { name: job.name, namespace: job.namespace };
  if (Object.keys(job.labels).length) metadata.labels = { ...job.labels };
  if (Object.keys(job.annotations).length) metadata.annotations = { ...job.annotations };
  // Built in reading order: when, what, then monitoring.
  const spec: Partial<JobManifest["spec"]> = { schedule: job.schedule, timezone: job.timezone };
  if (job.command !== null) spec.command = job.command;
  if (job.args.length) spec.args = [...job.args];
  if (job.working_dir !== null) spec.workingDir = job.working_dir;
  if (Object.keys(job.env).length) spec.env = { ...job.env };
  spec.grace = formatDuration(job.grace_s);
  if (job.timeout_s !== null) spec.timeout = formatDuration(job.timeout_s);
  spec.enabled = job.enabled;
  spec.paused = job.paused;
  if (job.agent_selector !== null) spec.agent = { selector: { ...job.agent_selector } };
  if (job.user !== null) spec.user = job.user;
  const alerts: NonNullable<JobManifest["spec"]["alerts"]> = {};
  if (job.alert_after !== 1) alerts.after = job.alert_after;
  if (job.min_runtime_s !== null) alerts.minRuntime = formatDuration(job.min_runtime_s);
  if (job.start_grace_s !== null) alerts.startGrace = formatDuration(job.start_grace_s);
  if (job.renotify_s !== null) alerts.renotify = formatDuration(job.renotify_s);
  if (job.channels !== null) alerts.channels = [...job.channels];
  if (Object.keys(alerts).length) spec.alerts = alerts;
  return { apiVersion: "crontopus/v1", kind: "Job", metadata, spec: spec as JobManifest["spec"] };
}

/**
 * The manifest as YAML text: what `jobs get -o yaml`, the console's YAML tab, `jobs export` and
 * GitOps write-back write. `namespace: false` leaves metadata.namespace out (a file whose
 * directory names it).
 */
export function manifestYaml(job: JobSpec, opts: { namespace?: boolean } = {}): string {
  const m: { metadata: Partial<JobManifest["metadata"]> } & Omit<JobManifest, "metadata"> = toManifest(job);
  if (opts.namespace === false) delete m.metadata.namespace;
  return Bun.YAML.stringify(m, null, 2) + "\n";
}

// ---------------------------------------------------------------------------------------
// Text: JSON or YAML, possibly several YAML documents

const YAML_TYPES = /^(application|text)\/(x-)?yaml$|\+yaml$/;
const JSON_TYPES = /^application\/json$|\+json$/;

/**
 * The documents in a request body or file. YAML may hold several documents separated by
 * `---`; a top-level list (JSON or YAML) holds several jobs. Empty documents are skipped.
 */
export function parseJobText(text: string, contentType?: string): unknown[] {
  const docs = parseJobDocuments(text, contentType);
  for (const d of docs) if ("error" in d) throw d.error;
  return docs.map((d) => (d as { value: unknown }).value);
}

/**
 * The job documents of a text, each parsed on its own: a YAML document with a syntax error is
 * an `error` in its place while the others keep their value (the CLI applies those).
 * Throws for what spoils the whole text: empty, invalid JSON, no document at all.
 */
export function parseJobDocuments(text: string, contentType?: string): ({ value: unknown } | { error: Invalid })[] {
  const body = text.replace(/^\uFEFF/, "");
  if (body.trim() === "") throw new Invalid("body", "is empty; expected a job as JSON or YAML");
  const media = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  let docs: ({ value: unknown } | { error: Invalid })[];
  if (JSON_TYPES.test(media)) docs = [{ value: parseJsonText(body) }];
  else if (YAML_TYPES.test(media) || !/^\s*[[{]/.test(body)) docs = parseYamlDocuments(body);
  else {
    // Undeclared and looks like JSON; it may still be YAML's flow style ({name: x}).
    try {
      docs = [{ value: parseJsonText(body) }];
    } catch (jsonError) {
      docs = parseYamlDocuments(body);
      if (docs.some((d) => "error" in d)) throw jsonError;
    }
  }
  const out = docs.flatMap((d) => ("value" in d && Array.isArray(d.value) ? d.value.map((value) => ({ value })) : [d]));
  if (out.length === 0) throw new Invalid("body", "holds no job: the YAML documents are empty");
  return out;
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = locateJsonError(text);
    if (!at) throw new Invalid("body", `invalid JSON: ${(e as Error).message.replace(/^JSON Parse error: /, "")}`);
    const { line, column } = lineAndColumn(text, at.offset);
    throw new Invalid("body", `invalid JSON at line ${line}, column ${column}: ${at.problem}`);
  }
}

function parseYamlDocuments(text: string): ({ value: unknown } | { error: Invalid })[] {
  const docs: ({ value: unknown } | { error: Invalid })[] = [];
  for (const chunk of splitYamlDocuments(text)) {
    try {
      const doc = parseYamlChunk(chunk);
      if (doc !== null && doc !== undefined) docs.push({ value: doc });
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      docs.push({ error: e });
    }
  }
  return docs;
}

function parseYamlChunk(chunk: YamlChunk): unknown {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(chunk.lines.join("\n"));
  } catch (e) {
    const problem = (e as Error).message.replace(/^YAML Parse error: /, "");
    // Bun's YAML errors carry no position; find the first line that breaks the document.
    const k = yamlErrorLine(chunk.lines);
    if (k === null) throw new Invalid("body", `invalid YAML in the document starting at line ${chunk.firstLine}: ${problem}`);
    const near = chunk.lines[k - 1]!.trim();
    // The classic trap: in YAML, @ is reserved and * starts an alias.
    const hint = /:\s+[@*]/.test(near) ? '; quote values that start with @ or *, e.g. schedule: "@daily"' : "";
    throw new Invalid("body", `invalid YAML at line ${chunk.firstLine + k - 1}: ${problem}${near ? ` (near "${clip(near)}")` : ""}${hint}`);
  }
  return doc;
}

export interface YamlChunk {
  firstLine: number; // 1-based line of the chunk's first line in the whole text
  lines: string[];
}

/** Split on document markers ourselves: Bun.YAML.parse returns an array both for several
 *  documents and for one document that is a list, and gives no line numbers. Each chunk is
 *  the lines firstLine… of the text (split on line ends); lines outside every chunk are `...`
 *  markers and comments between documents. */
export function splitYamlDocuments(text: string): YamlChunk[] {
  const chunks: YamlChunk[] = [];
  let current: YamlChunk = { firstLine: 1, lines: [] };
  let started = false; // holds a marker or content, not just comments and directives
  const close = (nextLine: number) => {
    if (started) chunks.push(current);
    current = { firstLine: nextLine, lines: [] };
    started = false;
  };
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^---(\s|$)/.test(line)) {
      if (started) close(i + 1);
      current.lines.push(line);
      started = true;
    } else if (/^\.\.\.(\s|$)/.test(line)) {
      close(i + 2);
    } else {
      if (current.lines.length === 0) current.firstLine = i + 1;
      current.lines.push(line);
      if (!/^\s*(#.*)?$/.test(line) && !line.startsWith("%")) started = true;
    }
  });
  close(0);
  return chunks;
}

/** The 1-based line where a YAML document stops parsing, or null when it cannot tell. */
function yamlErrorLine(lines: string[]): number | null {
  if (lines.length > 2000) return null;
  // Parse ever longer prefixes. An unclosed quote or bracket fails its prefixes with
  // "Unexpected EOF" until a later line fails for real, so the culprit is the line after
  // the last prefix that parsed.
  let lastGood = 0;
  for (let k = 1; k <= lines.length; k++) {
    try {
      Bun.YAML.parse(lines.slice(0, k).join("\n"));
      lastGood = k;
    } catch (e) {
      if (!/EOF/i.test((e as Error).message)) return lastGood + 1;
    }
  }
  return lastGood < lines.length ? lastGood + 1 : null;
}

/** Where JSON.parse gave up (Bun's message has no position), by a small strict scanner. */
function locateJsonError(text: string): { offset: number; problem: string } | null {
  let i = 0;
  const fail = (problem: string): never => {
    throw { offset: i, problem };
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const str = () => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail("unterminated string");
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail("invalid escape in string");
      } else if (c! < " ") fail("line break or control character inside a string");
      else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"') fail("expected a property name in double quotes");
          str();
          ws();
          if (text[i] !== ":") fail('expected ":" after the property name');
          i++;
        }
        value();
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          if (text[i] === close) fail(`trailing comma before "${close}"`);
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail(`expected "," or "${close}"`);
      }
    }
    if (c === '"') return str();
    const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null/y;
    m.lastIndex = i;
    if (m.exec(text)) {
      i = m.lastIndex;
      return;
    }
    if (c === undefined) fail("unexpected end of input");
    fail(`unexpected ${JSON.stringify(c)}`);
  };
  try {
    value();
    ws();
    if (i < text.length) fail("unexpected text after the JSON value");
    return null;
  } catch (e) {
    if (e instanceof RangeError) return null; // nested too deep for us; JSON.parse's message will do
    return e as { offset: number; problem: string };
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---------------------------------------------------------------------------------------
// Documents

type Obj = Record<string, unknown>;

/** Fields the API returns but does not take: accepted silently so GET output can be PUT back. */
const READ_ONLY = new Set([
  "id",
  "ping_url",
  "schedule_description",
  "next_runs",
  "created_at",
  "updated_at",
  "status",
  "tenant",
  "warnings",
  "badge_url",
  "consecutive_failures",
  "checkins_total",
  "expected_at",
  "status_since",
  // Where Git defines the job (GitOps): set by a sync, never by a write.
  "source",
  // A pause or resume against what Git says (see pausedOverride): derived, never written.
  "paused_override",
]);

/** The usual mix-ups between the two shapes, to turn "unknown field" into a pointer. */
const HINTS: Record<string, { plain: string; manifest: string }> = {
  working_dir: { plain: "working_dir", manifest: "spec.workingDir" },
  workingDir: { plain: "working_dir", manifest: "spec.workingDir" },
  agent_selector: { plain: "agent.selector", manifest: "spec.agent.selector" },
  selector: { plain: "agent.selector", manifest: "spec.agent.selector" },
  grace_s: { plain: "grace", manifest: "spec.grace" },
  timeout_s: { plain: "timeout", manifest: "spec.timeout" },
  timeZone: { plain: "timezone", manifest: "spec.timezone" },
  environment: { plain: "env", manifest: "spec.env" },
};

/** Whether a job document is a crontopus/v1 manifest (apiVersion, kind, metadata, spec) rather than the API's plain JSON. */
export function isManifest(doc: Record<string, unknown>): boolean {
  return "apiVersion" in doc || "kind" in doc || isObj(doc.spec) || isObj(doc.metadata);
}

/** Turn a JSON or YAML document into job fields, checking their meaning. */
export function parseJob(doc: unknown, opts: ParseJobOptions = {}): ParsedJob {
  if (!isObj(doc)) throw new Invalid("body", `expected a job object, got ${typeName(doc)}`);
  const manifest = isManifest(doc);
  const p = new JobReader(opts, manifest);
  if (manifest) p.readManifest(doc);
  else p.readPlain(doc);
  return p.finish();
}

class JobReader {
  readonly fields: Partial<JobSpec> = {};
  readonly warnings: string[] = [];
  tenant: string | undefined;
  // Raw values checked together at the end (the schedule needs the timezone).
  private schedule: { path: string; value: unknown } | undefined;
  private legacyTimeout: { path: string; value: unknown } | undefined;
  private timeoutSet = false;

  constructor(
    private readonly opts: ParseJobOptions,
    private readonly manifest: boolean,
  ) {}

  private path(plain: string, manifestPath: string): string {
    return this.manifest ? manifestPath : plain;
  }

  private unknown(path: string, key: string): void {
    const hint = HINTS[key]?.[this.manifest ? "manifest" : "plain"];
    this.warnings.push(`unknown field ${path} (ignored${hint && hint !== path ? `; did you mean ${hint}?` : ""})`);
  }

  readPlain(doc: Obj): void {
    for (const [key, v] of Object.entries(doc)) {
      if (key === "working_dir") this.fields.working_dir = readWorkingDir(key, v);
      else if (key === "user") this.fields.user = readUser(key, v);
      else if (key === "agent") this.readAgent("agent", v);
      else if (this.readCommon(key, key, v)) continue;
      else if (READ_ONLY.has(key) || key.startsWith("last_")) continue;
      else this.unknown(key, key);
    }
  }

  readManifest(doc: Obj): void {
    let legacy = false;
    if ("apiVersion" in doc) {
      if (doc.apiVersion === "v1") {
        legacy = true;
        this.warnings.push("apiVersion v1 is legacy; use crontopus/v1");
      } else if (doc.apiVersion !== "crontopus/v1") {
        throw new Invalid("apiVersion", `unsupported ${JSON.stringify(doc.apiVersion)}; use crontopus/v1`);
      }
    } else if (!this.opts.partial) throw new Invalid("apiVersion", "is required: use crontopus/v1");
    if ("kind" in doc) {
      if (doc.kind !== "Job") throw new Invalid("kind", `unsupported ${JSON.stringify(doc.kind)}; use Job`);
    } else if (!this.opts.partial) throw new Invalid("kind", "is required: use Job");

    for (const key of Object.keys(doc)) {
      if (!["apiVersion", "kind", "metadata", "spec"].includes(key)) this.unknown(key, key);
    }
    const metadata = objectAt("metadata", doc.metadata);
    for (const [key, v] of Object.entries(metadata)) {
      const path = `metadata.${key}`;
      if (key === "tenant") {
        if (typeof v !== "string") throw new Invalid(path, `expected a string, got ${typeName(v)}`);
        this.tenant = checkLength(path, v, LIMITS.name);
      } else if (["name", "namespace", "labels", "annotations"].includes(key)) this.readCommon(key, path, v);
      else this.unknown(path, key);
    }
    const spec = objectAt("spec", doc.spec);
    for (const [key, v] of Object.entries(spec)) {
      const path = `spec.${key}`;
      if (key === "workingDir") this.fields.working_dir = readWorkingDir(path, v);
      else if (key === "user") this.fields.user = readUser(path, v);
      else if (key === "agent") this.readAgent(path, v);
      else if (key === "environment") {
        if ("env" in spec) throw new Invalid(path, "cannot be used together with spec.env; use spec.env");
        if (!legacy) this.warnings.push("spec.environment is the legacy name of spec.env; use spec.env");
        this.fields.env = readEnv(path, v);
      } else if (key === "checkin" || key === "checkIn") this.readCheckin(path, v);
      else if (key === "retry") {
        this.warnings.push(`${path} is not supported (ignored): Crontopus never re-runs jobs; the host's scheduler runs them`);
      } else if (["name", "namespace", "labels", "annotations"].includes(key) || !this.readCommon(key, path, v)) {
        this.unknown(path, key);
      }
    }
  }

  /** Fields spelled the same in both shapes; false when `key` is not one of them. */
  private readCommon(key: string, path: string, v: unknown): boolean {
    const f = this.fields;
    switch (key) {
      case "name":
        if (v !== null) f.name = readName(path, v);
        return true;
      case "namespace":
        if (v !== null) f.namespace = readName(path, v);
        return true;
      case "labels":
        f.labels = readStringMap(path, v, "key", LIMITS.labelValue);
        return true;
      case "annotations":
        f.annotations = readStringMap(path, v, "key", LIMITS.annotationValue);
        return true;
      case "schedule":
        this.schedule = { path, value: typeof v === "string" ? checkLength(path, v, LIMITS.schedule) : v };
        return true;
      case "timezone":
        f.timezone = v === null ? "UTC" : validateTimezone(path, checkLength(path, v as string, LIMITS.timezone));
        return true;
      case "command":
        f.command = readCommand(path, v);
        return true;
      case "args":
        f.args = readArgs(path, v);
        return true;
      case "env":
        f.env = readEnv(path, v);
        return true;
      case "grace":
        f.grace_s = v === null ? DEFAULT_GRACE_S : atLeastOneSecond(path, parseDuration(path, v as string | number));
        return true;
      case "timeout":
        this.timeoutSet = true;
        f.timeout_s = v === null ? null : atLeastOneSecond(path, parseDuration(path, v as string | number));
        return true;
      case "enabled":
        f.enabled = v === null ? true : readBool(path, v);
        return true;
      case "paused":
        f.paused = v === null ? false : readBool(path, v);
        return true;
      case "alerts":
        this.readAlerts(path, v);
        return true;
      default:
        return false;
    }
  }

  private readAgent(path: string, v: unknown): void {
    if (v === null) {
      this.fields.agent_selector = null;
      return;
    }
    const agent = objectAt(path, v);
    for (const [key, value] of Object.entries(agent)) {
      if (key === "selector") this.fields.agent_selector = value === null ? null : readStringMap(`${path}.selector`, value, "key", LIMITS.labelValue);
      else this.unknown(`${path}.${key}`, key);
    }
  }

  /** The alert policy; camelCase in manifests, snake_case in plain JSON, either accepted. */
  private readAlerts(path: string, v: unknown): void {
    const f = this.fields;
    if (v === null) {
      Object.assign(f, { alert_after: 1, min_runtime_s: null, start_grace_s: null, renotify_s: null, channels: null });
      return;
    }
    const duration = (p: string, x: unknown) => (x === null ? null : atLeastOneSecond(p, parseDuration(p, x as string | number)));
    for (const [key, value] of Object.entries(objectAt(path, v))) {
      const p = `${path}.${key}`;
      switch (key) {
        case "after":
          if (value === null) f.alert_after = 1;
          else if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 1000) {
            throw new Invalid(p, "expected a whole number of failures in a row, 1 to 1000");
          } else f.alert_after = value;
          break;
        case "minRuntime":
        case "min_runtime":
          f.min_runtime_s = duration(p, value);
          break;
        case "startGrace":
        case "start_grace":
          f.start_grace_s = duration(p, value);
          break;
        case "renotify":
          f.renotify_s = duration(p, value);
          if (f.renotify_s !== null && f.renotify_s < 60) throw new Invalid(p, "must be at least 1m");
          break;
        case "channels":
          if (value === null) f.channels = null;
          else if (!Array.isArray(value) || value.some((c) => typeof c !== "string" || !c)) {
            throw new Invalid(p, "expected a list of channel names");
          } else {
            checkCount(p, value, LIMITS.channels);
            (value as string[]).forEach((c, i) => checkLength(`${p}[${i}]`, c, LIMITS.name));
            f.channels = [...new Set(value as string[])];
          }
          break;
        default:
          this.unknown(p, key);
      }
    }
  }

  /** Legacy v1 `spec.checkin: {enabled, secret, timeout}`. */
  private readCheckin(path: string, v: unknown): void {
    if (v === null) return;
    for (const [key, value] of Object.entries(objectAt(path, v))) {
      const p = `${path}.${key}`;
      if (key === "enabled") {
        if (readBool(p, value) === false) {
          this.warnings.push(`${p}: false is ignored: every job is monitored; set spec.paused: true to silence its alerts`);
        }
      } else if (key === "secret") this.warnings.push(`${p} is ignored: each job gets its own ping URL`);
      else if (key === "timeout") this.legacyTimeout = { path: p, value };
      else this.unknown(p, key);
    }
  }

  finish(): ParsedJob {
    const f = this.fields;
    const { partial } = this.opts;

    if (this.legacyTimeout && this.legacyTimeout.value !== null) {
      const { path, value } = this.legacyTimeout;
      const seconds = atLeastOneSecond(path, parseDuration(path, value as string | number));
      if (this.timeoutSet) this.warnings.push(`${path} is ignored because spec.timeout is set`);
      else f.timeout_s = seconds;
    }

    if (this.schedule) {
      const { path, value } = this.schedule;
      if (value === null) throw new Invalid(path, "is required");
      f.schedule = parseSchedule(path, value as string, f.timezone ?? "UTC").expr;
    } else if (!partial) {
      throw new Invalid(this.path("schedule", "spec.schedule"), "is required");
    }

    this.fromUrl("name", this.path("name", "metadata.name"));
    this.fromUrl("namespace", this.path("namespace", "metadata.namespace"));
    if (f.name === undefined && !partial) throw new Invalid(this.path("name", "metadata.name"), "is required");

    if (!partial && f.args?.length && (f.command ?? null) === null) {
      throw new Invalid(this.path("args", "spec.args"), "needs a command: args are passed to the command");
    }

    const parsed: ParsedJob = { fields: f, warnings: this.warnings, format: this.manifest ? "manifest" : "plain" };
    if (this.tenant !== undefined) parsed.tenant = this.tenant;
    return parsed;
  }

  /** Fill in the name or namespace from the URL, or check the document agrees with it. */
  private fromUrl(key: "name" | "namespace", path: string): void {
    const fromUrl = this.opts[key];
    if (fromUrl === undefined) return;
    readName(path, fromUrl);
    const given = this.fields[key];
    if (given === undefined) this.fields[key] = fromUrl;
    else if (given !== fromUrl) throw new Invalid(path, `does not match the URL (${fromUrl}): got "${given}"`);
  }
}

// ---------------------------------------------------------------------------------------
// Field readers: each takes the path the user wrote, for its error messages.

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAP_KEY = /^[A-Za-z0-9._/-]{1,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function readName(path: string, v: unknown): string {
  if (typeof v !== "string") throw new Invalid(path, `expected a string, got ${typeName(v)}${typeof v === "number" ? " (quote it in YAML)" : ""}`);
  if (v.length > 63 || !NAME.test(v)) {
    throw new Invalid(
      path,
      `must be 1-63 lower-case letters, digits or "-", starting and ending with a letter or digit (got ${JSON.stringify(v)})`,
    );
  }
  return v;
}

/** A string value; YAML's numbers and booleans become their text. */
function readString(path: string, v: unknown): string {
  if (typeof v === "string") return v;
  if ((typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean") return String(v);
  throw new Invalid(path, `expected a string, got ${typeName(v)}${v === null ? ' (write "" for an empty value)' : ""}`);
}

function readStringMap(path: string, v: unknown, keys: "key" | "env", maxValue: number): Record<string, string> {
  if (v === null) return {};
  const out: Record<string, string> = {};
  const entries = Object.entries(objectAt(path, v));
  checkCount(path, entries, keys === "env" ? LIMITS.envEntries : LIMITS.mapEntries);
  for (const [key, value] of entries) {
    checkKey(path, key, keys);
    out[key] = checkLength(`${path}.${key}`, readString(`${path}.${key}`, value), maxValue);
  }
  return out;
}

function checkKey(path: string, key: string, keys: "key" | "env"): void {
  if (keys === "key" && !MAP_KEY.test(key)) {
    throw new Invalid(path, `key ${JSON.stringify(key)} must be 1-63 characters of letters, digits, ".", "_", "/" and "-"`);
  }
  if (keys === "env" && !ENV_NAME.test(key)) {
    throw new Invalid(path, `${JSON.stringify(key)} is not a valid variable name: use letters, digits and "_", not starting with a digit`);
  }
}

/** env as a map, or as a list of {name, value} (Kubernetes' shape, and legacy v1's). */
function readEnv(path: string, v: unknown): Record<string, string> {
  if (!Array.isArray(v)) return readStringMap(path, v, "env", LIMITS.envValue);
  checkCount(path, v, LIMITS.envEntries);
  const out: Record<string, string> = {};
  v.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const entry = objectAt(p, item);
    for (const key of Object.keys(entry)) {
      if (key !== "name" && key !== "value") throw new Invalid(`${p}.${key}`, 'is not supported: each entry has only "name" and "value"');
    }
    if (!("name" in entry)) throw new Invalid(`${p}.name`, "is required");
    if (entry.name === undefined) throw new Invalid(`${p}.name`, "is required");
    if (typeof entry.name !== "string") throw new Invalid(`${p}.name`, `expected a string, got ${typeName(entry.name)}`);
    checkKey(`${p}.name`, entry.name, "env");
    if (entry.name in out) throw new Invalid(`${p}.name`, `${JSON.stringify(entry.name)} is set twice`);
    out[entry.name] = "value" in entry ? checkLength(`${p}.value`, readString(`${p}.value`, entry.value), LIMITS.envValue) : "";
  });
  return out;
}

function readCommand(path: string, v: unknown): string | null {
  // null: a ping-only job, run by something other than a Crontopus agent.
  if (v === null) return null;
  if (typeof v !== "string") throw new Invalid(path, `expected a string or null, got ${typeName(v)}`);
  if (v.trim() === "") throw new Invalid(path, "is empty; leave it out (or null) for a job that only pings");
  // The agent writes the command into a crontab line.
  if (/[\r\n\0]/.test(v)) throw new Invalid(path, "must be a single line; put longer scripts in a file and run that");
  return checkLength(path, v, LIMITS.command);
}

function readArgs(path: string, v: unknown): string[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new Invalid(path, `expected a list of strings, got ${typeName(v)}`);
  checkCount(path, v, LIMITS.args);
  return v.map((a, i) => checkLength(`${path}[${i}]`, readString(`${path}[${i}]`, a), LIMITS.arg));
}

function readWorkingDir(path: string, v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== "string") throw new Invalid(path, `expected a string or null, got ${typeName(v)}`);
  if (v.trim() === "") throw new Invalid(path, "is empty; leave it out (or null) to use the agent's default");
  if (/[\r\n\0]/.test(v)) throw new Invalid(path, "must be a single line");
  return checkLength(path, v, LIMITS.workingDir);
}

/** A POSIX user name (or a Windows account such as DOMAIN\\svc-backup). */
function readUser(path: string, v: unknown): string | null {
  if (v === null) return null;
  if (typeof v !== "string") throw new Invalid(path, `expected a user name or null, got ${typeName(v)}`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.\\@-]{0,63}$/.test(v) || /^-/.test(v)) {
    throw new Invalid(path, `"${v}" is not a valid user name (letters, digits, '_', '.', '-', '@', '\\'; at most 64)`);
  }
  return v;
}

function readBool(path: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new Invalid(path, `expected true or false, got ${typeof v === "string" ? JSON.stringify(v) : typeName(v)}`);
  return v;
}

function atLeastOneSecond(path: string, seconds: number): number {
  if (seconds < 1) throw new Invalid(path, "must be at least 1s");
  return seconds;
}

function objectAt(path: string, v: unknown): Obj {
  if (v === undefined) return {};
  if (!isObj(v)) throw new Invalid(path, `expected an object, got ${typeName(v)}`);
  return v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "boolean") return String(v);
  return `a ${typeof v}`;
}
