// The plan of a sync as text for people, in Terraform's manner, and the exit code of
// `crontopus gitops plan --exit-code` (terraform plan -detailed-exitcode). Pure: a plan object
// (the JSON of GET /api/v1/gitops/plan) in, text out; the caller says whether to colour it
// (`useColour()` of src/cli/output.ts: a TTY and NO_COLOR unset).
//
//   + create ns/name (path)         a new job from a file
//   ~ update ns/name (path)         a changed job, then one indented `field: from → to` per change
//   = adopt ns/name (path)          an existing API job the file takes over (id, ping URL, history kept)
//   - delete ns/name (path)         a git-managed job whose file is gone, prune on
//   ? orphan ns/name (path)         the same with prune off: kept as it is, listed so it is not forgotten
//   ! error path:line:column message   a file that does not parse or validate; its job stays as it was
//     skipped path                  a file without apiVersion: crontopus/…
//   Plan: 2 to create, 1 to update, 0 to delete, 1 to adopt; 3 unchanged; 1 error.

export interface PlanRef {
  namespace: string;
  name: string;
  path: string;
}

export interface PlanChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface PlanError {
  path: string;
  line?: number | null;
  column?: number | null;
  message: string;
}

/** What GET /api/v1/gitops/plan answers (docs/gitops.md). */
export interface PlanJson {
  commit: string | null;
  create: PlanRef[];
  update: (PlanRef & { changes: PlanChange[] })[];
  adopt: PlanRef[];
  delete: PlanRef[];
  orphan: PlanRef[];
  unchanged: number;
  skipped: string[];
  errors: PlanError[];
}

export interface RenderOptions {
  colour?: boolean;
}

const ANSI = { green: 32, yellow: 33, red: 31, cyan: 36, magenta: 35, dim: 2, bold: 1 } as const;
type Style = keyof typeof ANSI;

/** Control characters from a repository (a file name, a value) are shown escaped: they cannot move the cursor or recolour the terminal. */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** A field's value as in the API's JSON: strings quoted, so "" and a missing value differ. */
function value(v: unknown): string {
  if (v === undefined) return "(unset)";
  return clean(JSON.stringify(v));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Where an error is: `path:line:column`, or as much of it as is known. */
export function errorLocation(e: PlanError): string {
  let at = clean(e.path);
  if (e.line !== null && e.line !== undefined) {
    at += `:${e.line}`;
    if (e.column !== null && e.column !== undefined) at += `:${e.column}`;
  }
  return at;
}

/** The summary line: `Plan: 2 to create, 1 to update, 0 to delete, 1 to adopt; 3 unchanged; 1 error.` */
export function planSummary(plan: PlanJson): string {
  const parts = [
    `Plan: ${plan.create.length} to create, ${plan.update.length} to update, ${plan.delete.length} to delete, ${plan.adopt.length} to adopt`,
    `${plan.unchanged} unchanged`,
  ];
  if (plan.orphan.length) parts.push(`${plan.orphan.length} orphaned`);
  if (plan.skipped.length) parts.push(`${plan.skipped.length} skipped`);
  parts.push(plural(plan.errors.length, "error"));
  return `${parts.join("; ")}.`;
}

/** The plan as lines of text, ending with the summary line and a newline. */
export function renderPlan(plan: PlanJson, opts: RenderOptions = {}): string {
  const paint = (style: Style, s: string) => (opts.colour ? `\x1b[${ANSI[style]}m${s}\x1b[0m` : s);
  const ref = (r: PlanRef) => `${clean(r.namespace)}/${clean(r.name)} (${clean(r.path)})`;
  const lines: string[] = [];
  if (plan.commit) lines.push(`Commit ${clean(plan.commit)}`, "");
  for (const r of plan.create) lines.push(paint("green", `+ create ${ref(r)}`));
  for (const r of plan.update) {
    lines.push(paint("yellow", `~ update ${ref(r)}`));
    for (const c of r.changes) lines.push(`    ${clean(c.field)}: ${value(c.from)} → ${value(c.to)}`);
  }
  for (const r of plan.adopt) lines.push(paint("cyan", `= adopt ${ref(r)}`));
  for (const r of plan.delete) lines.push(paint("red", `- delete ${ref(r)}`));
  for (const r of plan.orphan) lines.push(paint("magenta", `? orphan ${ref(r)}`));
  for (const p of plan.skipped) lines.push(paint("dim", `  skipped ${clean(p)}`));
  for (const e of plan.errors) lines.push(paint("red", `! error ${errorLocation(e)} ${clean(e.message)}`));
  if (lines.length && lines.at(-1) !== "") lines.push("");
  lines.push(paint("bold", planSummary(plan)));
  return `${lines.join("\n")}\n`;
}

/** Changes that a sync would make: orphans and skipped files change nothing. */
export function planHasChanges(plan: PlanJson): boolean {
  return plan.create.length + plan.update.length + plan.adopt.length + plan.delete.length > 0;
}

/** `--exit-code`: 1 for any error, else 2 when the plan changes something, else 0 (terraform plan -detailed-exitcode). */
export function planExitCode(plan: PlanJson): 0 | 1 | 2 {
  if (plan.errors.length) return 1;
  return planHasChanges(plan) ? 2 : 0;
}
