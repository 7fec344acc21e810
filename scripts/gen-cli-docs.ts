// docs/cli.md from the CLI's own definitions (src/main.ts and the citty commands under src/cli/):
// every command's synopsis, description, arguments and flags come from the code, so the page
// cannot drift from it; a test fails when the file differs from what this script writes.
// What the code cannot say (behaviour, examples, exit codes) is hand-written prose between
// `<!-- prose:ID -->` and `<!-- /prose -->` markers in docs/cli.md, kept as it is.
//
//   bun run docs:cli            rewrite docs/cli.md
//   bun run docs:cli --check    exit 1 when docs/cli.md is stale
import { join } from "node:path";
import { main } from "../src/main";
import { clientArgs } from "../src/cli/client";
import { serverArgs } from "../src/cli/common";

export const CLI_DOC = join(import.meta.dir, "..", "docs", "cli.md");

interface ArgDef {
  type?: string;
  alias?: string | string[];
  description?: string;
  valueHint?: string;
  required?: boolean;
  default?: unknown;
}

interface Command {
  path: string[];
  description: string;
  args: Record<string, ArgDef>;
  leaf: boolean;
}

/** The page's outline: hand-written prose, shared flags, and the commands in reading order. */
type Block =
  | { prose: string }
  | { heading: string; level: 2 | 3; prose?: string; shared?: Record<string, ArgDef> }
  | { unit: string[] };

const LAYOUT: Block[] = [
  { prose: "intro" },
  { heading: "Client commands", level: 2, prose: "client" },
  { heading: "Which server, which token", level: 3, shared: clientArgs, prose: "which-server" },
  { unit: ["auth"] },
  { unit: ["tenants"] },
  { unit: ["tokens"] },
  { unit: ["namespaces"] },
  { unit: ["jobs"] },
  { unit: ["ping"] },
  { unit: ["exec"] },
  { unit: ["runs"] },
  { unit: ["logs"] },
  { unit: ["channels"] },
  { unit: ["gitops"] },
  { unit: ["agents"] },
  { unit: ["enroll-tokens"] },
  { heading: "Agent commands", level: 2, prose: "agent-commands" },
  { unit: ["agent enroll"] },
  { unit: ["agent run"] },
  { unit: ["agent status"] },
  { unit: ["agent install", "agent uninstall"] },
  { heading: "Server-side commands", level: 2, shared: serverArgs, prose: "server-side" },
  { unit: ["serve"] },
  { unit: ["migrate"] },
  { unit: ["backup"] },
  { unit: ["restore"] },
  { unit: ["config"] },
  { unit: ["admin create-user"] },
  { unit: ["admin create-token"] },
  { unit: ["health"] },
  { unit: ["version"] },
];

const resolveValue = async (v: unknown): Promise<any> => (typeof v === "function" ? await (v as () => unknown)() : await v);

/** Every command of the tree, groups and leaves, in definition order. */
async function walk(cmd: unknown, path: string[] = []): Promise<Command[]> {
  const def = await resolveValue(cmd);
  const meta = (await resolveValue(def.meta)) ?? {};
  const args = (await resolveValue(def.args)) ?? {};
  const subs = (await resolveValue(def.subCommands)) ?? {};
  const out: Command[] = path.length ? [{ path, description: meta.description ?? "", args, leaf: Object.keys(subs).length === 0 }] : [];
  for (const [name, sub] of Object.entries(subs)) out.push(...(await walk(sub, [...path, name])));
  return out;
}

const aliases = (d: ArgDef) => (Array.isArray(d.alias) ? d.alias : d.alias ? [d.alias] : []);
const placeholder = (name: string, d: ArgDef) => d.valueHint ?? name.toUpperCase().replace(/-/g, "_");
/** A flag given more than once adds up (src/cli/args.ts `repeated`); its description says so. */
const repeatable = (d: ArgDef) => /\brepeat/i.test(d.description ?? "");
const sentence = (s: string) => (s && !/[.!?]$/.test(s) ? `${s}.` : s);
const cell = (s: string) => s.replace(/\|/g, "\\|");

/** The flag sets documented once, under their own heading. */
const SHARED = [
  { args: clientArgs as Record<string, ArgDef>, link: "[the client flags](#which-server-which-token)" },
  { args: serverArgs as Record<string, ArgDef>, link: "[the data directory's flags](#server-side-commands)" },
];

/** The shared set a command takes whole (the same definitions, spread in), if any. */
function sharedSet(c: Command) {
  return SHARED.find((set) => Object.entries(set.args).every(([name, d]) => c.args[name] === d)) ?? null;
}

/** Flags documented with their shared set rather than with the command; --json stays in its synopsis. */
function inSharedSet(c: Command, name: string, forSynopsis: boolean): boolean {
  const set = sharedSet(c);
  return set !== null && set.args[name] === c.args[name] && !(forSynopsis && name === "json");
}

/** The flag as typed: `-n NAMESPACE`, `--all`, `--out FILE`. */
function spelling(name: string, d: ArgDef, short: boolean): string {
  const one = aliases(d).find((a) => a.length === 1);
  const flag = short && one ? `-${one}` : `--${name}`;
  return d.type === "boolean" ? flag : `${flag} ${placeholder(name, d)}`;
}

/** A positional that takes the rest of the line after `--` (exec's command); its description says so. */
const afterDashes = (d: ArgDef) => /after --/.test(d.description ?? "");

function synopsis(c: Command): string {
  const words = ["crontopus", ...c.path];
  const tail: string[] = [];
  for (const [name, d] of Object.entries(c.args)) {
    if (d.type !== "positional") continue;
    const hint = placeholder(name, d);
    if (afterDashes(d)) tail.push(`-- ${hint} [ARGS…]`);
    else words.push(d.required ? hint : `[${hint}]`);
  }
  for (const [name, d] of Object.entries(c.args)) {
    if (d.type === "positional" || name === "json" || inSharedSet(c, name, true)) continue;
    const s = spelling(name, d, true);
    words.push((d.required ? s : `[${s}]`) + (repeatable(d) ? "…" : ""));
  }
  if (c.args.json) words.push("[--json]");
  return [...words, ...tail].join(" ");
}

function flagsTable(args: Record<string, ArgDef>, skip: (name: string) => boolean = () => false): string | null {
  const rows: string[] = [];
  for (const [name, d] of Object.entries(args)) {
    if (skip(name)) continue;
    const what =
      d.type === "positional"
        ? `\`${placeholder(name, d)}\``
        : [...aliases(d).map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), spelling(name, d, false)].map((s) => `\`${s}\``).join(", ");
    const notes = [d.required && d.type !== "positional" ? "Required." : "", d.required === false && d.type === "positional" ? "Optional." : ""].filter(Boolean).join(" ");
    rows.push(`| ${cell(what)} | ${cell(sentence(d.description ?? ""))}${notes ? ` ${notes}` : ""} |`);
  }
  if (rows.length === 0) return null;
  const positional = Object.values(args).some((d) => d.type === "positional");
  return [`| ${positional ? "Argument or flag" : "Flag"} | Meaning |`, "|---|---|", ...rows].join("\n");
}

const PROSE = /<!-- prose:([a-z0-9+-]+) -->\n?([\s\S]*?)\n?<!-- \/prose -->/g;

/** The hand-written regions of a page this script wrote before; throws on a marker it cannot read. */
export function readProse(page: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of page.matchAll(PROSE)) out.set(m[1]!, m[2]!.trim());
  const markers = page.match(/<!-- prose:/g)?.length ?? 0;
  if (markers !== out.size) fail(`docs/cli.md has ${markers} prose markers but ${out.size} readable regions: a marker is malformed or unclosed`);
  return out;
}

const proseId = (paths: string[]) => paths.map((p) => p.replace(/ /g, "-")).join("+");

/** The page, from the command tree (`root`: the CLI's) and the prose of `existing` (the current docs/cli.md). */
export async function renderCliDocs(existing: string, root: unknown = main): Promise<string> {
  const commands = await walk(root);
  const byPath = new Map(commands.map((c) => [c.path.join(" "), c]));
  const prose = readProse(existing);
  const used = new Set<string>();
  const covered = new Set<string>();
  const region = (id: string) => {
    used.add(id);
    const text = prose.get(id) ?? "";
    return `<!-- prose:${id} -->\n${text ? `${text}\n` : ""}<!-- /prose -->`;
  };

  const out: string[] = [
    "<!-- Written by scripts/gen-cli-docs.ts (bun run docs:cli) from the CLI's own definitions: change a command's",
    "     description or flags in src/cli/, or the prose between the prose markers, then run it again. -->",
    "",
    "# The `crontopus` command",
  ];
  for (const block of LAYOUT) {
    if ("prose" in block && !("heading" in block)) {
      out.push("", region(block.prose));
      continue;
    }
    if ("heading" in block) {
      out.push("", `${"#".repeat(block.level)} ${block.heading}`);
      if (block.prose) out.push("", region(block.prose));
      if (block.shared) out.push("", flagsTable(block.shared)!);
      continue;
    }
    const units = block.unit.map((p) => byPath.get(p) ?? fail(`the layout names "${p}", which is no command`));
    const leaves = units.flatMap((u) => (u.leaf ? [u] : commands.filter((c) => c.leaf && c.path.join(" ").startsWith(u.path.join(" ") + " "))));
    out.push("", `### ${block.unit.map((p) => `\`${p}\``).join(", ")}`);
    const described = units.length === 1 ? units[0]!.description : "";
    if (described) out.push("", sentence(described));
    out.push("", "```", ...leaves.map(synopsis), "```");
    out.push("", region(proseId(block.unit)));
    // One command: its flags here. Several: each under a heading of its own, with what it does.
    const single = units.length === 1 && units[0]!.leaf;
    for (const l of leaves) {
      if (!single) out.push("", `#### \`${l.path.join(" ")}\``, "", sentence(l.description));
      const table = flagsTable(l.args, (name) => inSharedSet(l, name, false));
      if (table) out.push("", table);
    }
    const sets = [...new Set(leaves.map(sharedSet).filter((x) => x !== null))];
    for (const set of sets) {
      const taking = leaves.filter((l) => sharedSet(l) === set).map((l) => `\`${l.path.join(" ")}\``);
      const who = single ? "It also takes" : taking.length === leaves.length ? "Each also takes" : `${taking.join(", ").replace(/, ([^,]*)$/, " and $1")} also take${taking.length === 1 ? "s" : ""}`;
      out.push("", `${who} ${set.link}.`);
    }
    for (const l of leaves) covered.add(l.path.join(" "));
  }
  const missing = commands.filter((c) => c.leaf && !covered.has(c.path.join(" "))).map((c) => c.path.join(" "));
  if (missing.length) fail(`commands missing from the layout in scripts/gen-cli-docs.ts: ${missing.join(", ")}`);
  const orphans = [...prose.keys()].filter((id) => !used.has(id));
  if (orphans.length) fail(`docs/cli.md has prose for no section (would be lost): ${orphans.join(", ")}`);
  return out.join("\n") + "\n";
}

function fail(message: string): never {
  throw new Error(message);
}

if (import.meta.main) {
  const current = await Bun.file(CLI_DOC).text();
  const next = await renderCliDocs(current);
  if (process.argv.includes("--check")) {
    if (next !== current) {
      console.error("docs/cli.md is stale: run bun run docs:cli");
      process.exit(1);
    }
  } else if (next !== current) {
    await Bun.write(CLI_DOC, next);
    console.log("wrote docs/cli.md");
  } else console.log("docs/cli.md is up to date");
}
