// Write-back rewrites one file in the repository's own form: the job's document becomes the job's
// manifest, and what else the file holds (comments, other jobs, other YAML, CRLF) stays as it was.
import { describe, expect, test } from "bun:test";
import { WriteBackRefused } from "../errors";
import { withDefaults, type JobSpec } from "../jobs/manifest";
import { computePlan } from "./plan";
import { rewriteManifest } from "./rewrite";
import { thrown } from "../../test/thrown";

const doc = (name: string, schedule: string, extra = "") => `apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: ${name}\n${extra}spec:\n  schedule: "${schedule}"\n`;
const spec = (namespace: string, name: string, over: Partial<JobSpec> = {}): JobSpec => withDefaults({ namespace, name, schedule: "@weekly", ...over });
/** The jobs a sync would read from the file, as namespace/name → schedule. */
const read = (path: string, text: string, root = "") =>
  Object.fromEntries(computePlan("c", root, [{ path, text }], [], false).desired.map((d) => [`${d.namespace}/${d.name}`, d.spec.schedule]));

describe("rewriteManifest", () => {
  test("a file of one job keeps its header comment and leaves the namespace to its directory", () => {
    const text = `# The nightly backup; ask ops before changing it.\n${doc("backup", "@daily")}`;
    const out = rewriteManifest({ path: "production/backup.yaml", text }, "", { namespace: "production", name: "backup" }, spec("production", "backup", { command: "/bin/backup" }))!;
    expect(out).toStartWith("# The nightly backup; ask ops before changing it.\napiVersion: crontopus/v1\n");
    expect(out).not.toContain("namespace:");
    expect(out).toContain("command: /bin/backup");
    expect(out).toEndWith("\n");
    expect(read("production/backup.yaml", out)).toEqual({ "production/backup": "@weekly" });
  });

  test("a namespace the file gave, or one its directory does not say, is written", () => {
    const text = doc("backup", "@daily", "  namespace: ops\n");
    expect(rewriteManifest({ path: "production/backup.yaml", text }, "", { namespace: "ops", name: "backup" }, spec("ops", "backup"))).toContain("  namespace: ops\n");
    const top = rewriteManifest({ path: "backup.yaml", text: doc("backup", "@daily") }, "", { namespace: "default", name: "backup" }, spec("default", "backup"))!;
    expect(top).not.toContain("namespace:");
    expect(read("backup.yaml", top)).toEqual({ "default/backup": "@weekly" });
  });

  test("in a file of several documents only the job's own changes; the others stay byte for byte", () => {
    const first = `# first\n${doc("a", "@daily")}`;
    const other = `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-ours # a comment\n`;
    const last = `---\n${doc("c", "@hourly")}...\n# trailing words\n`;
    const text = `${first}---\n# the job b\n${doc("b", "@daily")}\n${other}${last}`;
    const out = rewriteManifest({ path: "jobs/all.yaml", text }, "jobs", { namespace: "default", name: "b" }, spec("default", "b"))!;
    expect(out).toStartWith(first + "---\n# the job b\napiVersion: crontopus/v1\n");
    expect(out).toEndWith(`\n${other}${last}`);
    expect(read("jobs/all.yaml", out, "jobs")).toEqual({ "default/a": "@daily", "default/b": "@weekly", "default/c": "@hourly" });
  });

  test("a delete removes the job's document and keeps the rest; the last job's file goes", () => {
    const text = `${doc("a", "@daily")}---\n${doc("b", "@daily")}`;
    const out = rewriteManifest({ path: "all.yaml", text }, "", { namespace: "default", name: "a" }, null)!;
    expect(read("all.yaml", out)).toEqual({ "default/b": "@daily" });
    expect(out).toBe(`---\n${doc("b", "@daily")}`);
    expect(rewriteManifest({ path: "all.yaml", text: `# only b\n---\n${doc("b", "@daily")}` }, "", { namespace: "default", name: "b" }, null)).toBeNull();
  });

  test("CRLF line ends and a JSON file keep their form", () => {
    const crlf = doc("a", "@daily").replace(/\n/g, "\r\n");
    const out = rewriteManifest({ path: "a.yaml", text: crlf }, "", { namespace: "default", name: "a" }, spec("default", "a"))!;
    expect(out.split("\r\n").length).toBeGreaterThan(5);
    expect(out.replace(/\r\n/g, "")).not.toContain("\n");
    const json = JSON.stringify({ apiVersion: "crontopus/v1", kind: "Job", metadata: { name: "a" }, spec: { schedule: "@daily" } }, null, 4) + "\n";
    const jout = rewriteManifest({ path: "ops/a.json", text: json }, "", { namespace: "ops", name: "a" }, spec("ops", "a"))!;
    expect(JSON.parse(jout)).toMatchObject({ metadata: { name: "a" }, spec: { schedule: "@weekly" } });
    expect(JSON.parse(jout).metadata.namespace).toBeUndefined();
    expect(jout).toStartWith('{\n    "apiVersion"');
    expect(rewriteManifest({ path: "ops/a.json", text: json }, "", { namespace: "ops", name: "a" }, null)).toBeNull();
  });

  test("a list of several jobs, a job defined twice, or a file without the job are refused, naming the file", () => {
    const list = `- ${doc("a", "@daily").replace(/\n(?=.)/g, "\n  ")}- ${doc("b", "@daily").replace(/\n(?=.)/g, "\n  ")}`;
    expect(read("list.yaml", list)).toEqual({ "default/a": "@daily", "default/b": "@daily" });
    const e = thrown(WriteBackRefused, () => rewriteManifest({ path: "list.yaml", text: list }, "", { namespace: "default", name: "a" }, spec("default", "a")));
    expect(e.message).toContain("list.yaml holds default/a in a list of several jobs");
    expect(e.path).toBe("list.yaml");
    expect(thrown(WriteBackRefused, () => rewriteManifest({ path: "x.yaml", text: `${doc("a", "@daily")}---\n${doc("a", "@daily")}` }, "", { namespace: "default", name: "a" }, null)).message).toContain("twice");
    expect(thrown(WriteBackRefused, () => rewriteManifest({ path: "x.yaml", text: doc("b", "@daily") }, "", { namespace: "default", name: "a" }, null)).message).toContain("does not define default/a");
  });
});
