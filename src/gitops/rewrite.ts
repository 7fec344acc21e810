// Write-back's edit of one manifest file, in the repository's own form: the job's document is
// replaced by the job's manifest (the renderer of `jobs export`) or removed; the file's other
// documents, the comments around them, its line ends and a metadata.namespace left to the
// directory are kept. Pure: text in, text out.
import { WriteBackRefused } from "../errors";
import { manifestYaml, splitYamlDocuments, toManifest, type JobSpec } from "../jobs/manifest";
import { namespaceFromPath } from "./plan";

export interface JobRef {
  namespace: string;
  name: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a document is the crontopus manifest of `ref`, its namespace read as a sync reads it. */
function defines(doc: unknown, root: string, path: string, ref: JobRef): boolean {
  if (!isObj(doc) || typeof doc.apiVersion !== "string" || !doc.apiVersion.startsWith("crontopus/") || !isObj(doc.metadata)) return false;
  const m = doc.metadata;
  if (m.name !== ref.name) return false;
  if (typeof m.namespace === "string") return m.namespace === ref.namespace;
  try {
    return namespaceFromPath(root, path) === ref.namespace;
  } catch {
    return false;
  }
}

const several = (path: string, ref: JobRef) =>
  new WriteBackRefused(
    path,
    `${path} holds ${ref.namespace}/${ref.name} in a list of several jobs, which write-back does not rewrite: put each job in a file (or a YAML document of its own, after ---) and try again`,
  );

// What frames a YAML document: its `---` marker, directives, blank lines and comments.
const FRAME_RE = /^(---\s*(#.*)?|%.*|\s*(#.*)?)$/;
// After its last line: blank lines and comments at the start of a line.
const TAIL_RE = /^(#.*)?\s*$/;
const EMPTY_RE = /^(---|\.\.\.)?\s*(#.*)?$|^%/;

/**
 * The file's text with the document of `ref` replaced by the manifest of `spec`, or removed when
 * `spec` is null; null when the file then holds no document at all (it is to be removed).
 * Throws WriteBackRefused when the file does not define the job on its own (several jobs in one
 * list, twice, not at all, or text that does not parse).
 */
export function rewriteManifest(file: { path: string; text: string }, root: string, ref: JobRef, spec: JobSpec | null): string | null {
  const { path } = file;
  const bom = file.text.startsWith("\uFEFF") ? "\uFEFF" : "";
  const text = file.text.slice(bom.length);
  if (path.toLowerCase().endsWith(".json")) {
    const json = rewriteJson(path, text, root, ref, spec);
    return json === null ? null : bom + json;
  }
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  const chunks = splitYamlDocuments(text);
  let hit = -1;
  let keepsNamespace = true;
  chunks.forEach((c, i) => {
    let doc: unknown;
    try {
      doc = Bun.YAML.parse(c.lines.join("\n"));
    } catch {
      return;
    }
    if (Array.isArray(doc) && doc.some((d) => defines(d, root, path, ref))) throw several(path, ref);
    if (!defines(doc, root, path, ref)) return;
    if (hit >= 0) throw new WriteBackRefused(path, `${path} defines ${ref.namespace}/${ref.name} twice`);
    hit = i;
    keepsNamespace = typeof (doc as { metadata: Record<string, unknown> }).metadata.namespace === "string";
  });
  if (hit < 0) throw new WriteBackRefused(path, `${path} does not define ${ref.namespace}/${ref.name} in a document that parses`);
  const c = chunks[hit]!;
  const start = c.firstLine - 1;
  const end = start + c.lines.length;
  let replacement: string[] = [];
  if (spec) {
    let lead = 0;
    while (lead < c.lines.length && FRAME_RE.test(c.lines[lead]!)) lead++;
    let tail = c.lines.length;
    while (tail > lead && TAIL_RE.test(c.lines[tail - 1]!)) tail--;
    // The namespace stays left to the directory when the file left it so and the directory says the same.
    const withNamespace = keepsNamespace || safeNamespace(root, path) !== spec.namespace;
    const rendered = manifestYaml(spec, { namespace: withNamespace }).replace(/\n$/, "").split("\n");
    replacement = [...c.lines.slice(0, lead), ...rendered, ...c.lines.slice(tail)];
  }
  const out = [...lines.slice(0, start), ...replacement, ...lines.slice(end)];
  if (out.every((l) => EMPTY_RE.test(l))) return null;
  return bom + out.join(eol);
}

function rewriteJson(path: string, text: string, root: string, ref: JobRef, spec: JobSpec | null): string | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new WriteBackRefused(path, `${path} is not valid JSON`);
  }
  const list = Array.isArray(doc);
  if (Array.isArray(doc)) {
    if (doc.length === 1 && defines(doc[0], root, path, ref)) doc = doc[0];
    else throw several(path, ref);
  }
  if (!defines(doc, root, path, ref)) throw new WriteBackRefused(path, `${path} does not define ${ref.namespace}/${ref.name}`);
  if (!spec) return null;
  const manifest: { metadata: Record<string, unknown> } = toManifest(spec);
  const hadNamespace = typeof (doc as { metadata: Record<string, unknown> }).metadata.namespace === "string";
  if (!hadNamespace && safeNamespace(root, path) === spec.namespace) delete manifest.metadata.namespace;
  const indent = /^[[{]\r?\n(\t| +)/.exec(text)?.[1] ?? 2;
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  return JSON.stringify(list ? [manifest] : manifest, null, indent).replace(/\n/g, eol) + (/\r?\n$/.test(text) ? eol : "");
}

function safeNamespace(root: string, path: string): string | null {
  try {
    return namespaceFromPath(root, path);
  } catch {
    return null;
  }
}
