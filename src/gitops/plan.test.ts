// computePlan over plain files and jobs: no database, no git.
import { describe, expect, test } from "bun:test";
import { withDefaults } from "../jobs/manifest";
import { manifest } from "../../test/gitops-repo";
import { computePlan, type CurrentJob } from "./plan";

const job = (namespace: string, name: string, managed: boolean, over: object = {}, source_path: string | null = null, git_paused: boolean | null = managed ? false : null): CurrentJob => ({
  spec: withDefaults({ namespace, name, schedule: "@daily", ...over }),
  managed,
  source_path,
  git_paused,
});

describe("computePlan", () => {
  test("namespaces come from metadata, else the first directory below the path, else default", () => {
    const { plan, desired } = computePlan("c1", "jobs", [
      { path: "jobs/production/backup.yaml", text: manifest("backup") },
      { path: "jobs/staging/deep/report.yml", text: manifest("report") },
      { path: "jobs/top.yaml", text: manifest("top") },
      { path: "jobs/production/pinned.yaml", text: manifest("pinned", "@daily", { namespace: "ops" }) },
    ], [], false);
    expect(desired.map((d) => `${d.namespace}/${d.name}`).sort()).toEqual(["default/top", "ops/pinned", "production/backup", "staging/report"]);
    expect(plan.create).toHaveLength(4);
    expect(plan.errors).toEqual([]);
  });

  test("other YAML is skipped and listed; a multi-document file gives each job", () => {
    const { plan } = computePlan("c1", "", [
      { path: ".github/workflows/ci.yml", text: "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n" },
      { path: "k8s/deploy.yaml", text: "apiVersion: apps/v1\nkind: Deployment\n" },
      { path: "many.yaml", text: manifest("one") + "---\n" + manifest("two") },
    ], [], false);
    expect(plan.skipped.sort()).toEqual([".github/workflows/ci.yml", "k8s/deploy.yaml"]);
    expect(plan.create.map((c) => c.name)).toEqual(["one", "two"]);
  });

  test("update with a field-level diff, unchanged, adopt, orphan with prune off and delete with it on", () => {
    const current = [
      job("default", "same", true, {}, "same.yaml"),
      job("default", "changed", true, { schedule: "@hourly" }, "changed.yaml"),
      job("default", "handmade", false),
      job("default", "gone", true, {}, "gone.yaml"),
      job("default", "apijob", false),
    ];
    const files = [
      { path: "same.yaml", text: manifest("same") },
      { path: "changed.yaml", text: manifest("changed", "@daily", { command: "/bin/true" }) },
      { path: "handmade.yaml", text: manifest("handmade") },
    ];
    const off = computePlan("c2", "", files, current, false).plan;
    expect(off.unchanged).toBe(1);
    expect(off.update).toEqual([{ namespace: "default", name: "changed", path: "changed.yaml", changes: [
      { field: "schedule", from: "@hourly", to: "@daily" },
      { field: "command", from: null, to: "/bin/true" },
    ] }]);
    expect(off.adopt).toEqual([{ namespace: "default", name: "handmade", path: "handmade.yaml", changes: [] }]);
    expect(off.orphan).toEqual([{ namespace: "default", name: "gone", path: "gone.yaml" }]);
    expect(off.delete).toEqual([]);
    // A job that is not from Git is never touched.
    const on = computePlan("c2", "", files, current, true).plan;
    expect(on.delete).toEqual([{ namespace: "default", name: "gone", path: "gone.yaml" }]);
    expect(on.orphan).toEqual([]);
  });

  test("a paused job stays paused: pause is a runtime override, not a change", () => {
    const { plan } = computePlan("c", "", [{ path: "a.yaml", text: manifest("a") }], [job("default", "a", true, { paused: true }, "a.yaml")], true);
    expect(plan.unchanged).toBe(1);
  });

  test("a broken manifest is reported with path, line and column, and its job is kept; the rest applies", () => {
    const broken = "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  schedule: \"every tuesday\"\n";
    const { plan } = computePlan("c", "", [
      { path: "good.yaml", text: manifest("good") },
      { path: "bad.yaml", text: broken },
      { path: "syntax.yaml", text: "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: [oops\n" },
    ], [job("default", "bad", true, {}, "bad.yaml"), job("default", "syntax", true, {}, "syntax.yaml")], true);
    expect(plan.create.map((c) => c.name)).toEqual(["good"]);
    expect(plan.delete).toEqual([]);
    const bad = plan.errors.find((e) => e.path === "bad.yaml")!;
    expect(bad).toMatchObject({ line: 6, column: 3 });
    expect(bad.message).toStartWith("spec.schedule:");
    const syntax = plan.errors.find((e) => e.path === "syntax.yaml")!;
    expect(syntax.line).toBeGreaterThanOrEqual(4);
    expect(syntax.message).toContain("YAML");
  });

  test("two files defining one job are both reported, and neither is applied nor deleted", () => {
    const { plan, desired } = computePlan("c", "", [
      { path: "a.yaml", text: manifest("twin") },
      { path: "b.yaml", text: manifest("twin", "@hourly") },
    ], [job("default", "twin", true, {}, "a.yaml")], true);
    expect(desired).toEqual([]);
    expect(plan.errors.map((e) => e.path)).toEqual(["a.yaml", "b.yaml"]);
    expect(plan.errors[0]!.message).toContain("also defined in b.yaml");
    expect(plan.errors[0]).toMatchObject({ line: 4, column: 3 });
    expect(plan.delete).toEqual([]);
  });

  describe("spec.paused: Git's word unless a pause or resume overrode it", () => {
    const paused = (name: string, value: boolean) => manifest(name).replace("spec:\n", `spec:\n  paused: ${value}\n`);
    const applied = (d: { name: string; spec: { paused: boolean }; git_paused: boolean }) => [d.name, d.spec.paused, d.git_paused];

    test("a job that follows Git takes a commit's change of spec.paused, as an update", () => {
      const { plan, desired } = computePlan("c", "", [{ path: "a.yaml", text: paused("a", true) }], [job("default", "a", true, {}, "a.yaml", false)], false);
      expect(desired.map(applied)).toEqual([["a", true, true]]);
      expect(plan.update[0]!.changes).toEqual([{ field: "paused", from: false, to: true }]);
    });

    test("a job paused against Git stays paused through a commit that changes something else", () => {
      const { plan, desired } = computePlan("c", "", [{ path: "a.yaml", text: manifest("a", "@hourly") }], [job("default", "a", true, { paused: true }, "a.yaml", false)], false);
      expect(desired.map(applied)).toEqual([["a", true, false]]);
      expect(plan.update[0]!.changes.map((c) => c.field)).toEqual(["schedule"]);
    });

    test("a job resumed against Git stays running; a commit agreeing with the override ends it", () => {
      const resumed = job("default", "a", true, { paused: false }, "a.yaml", true);
      expect(computePlan("c", "", [{ path: "a.yaml", text: paused("a", true) }], [resumed], false).desired.map(applied)).toEqual([["a", false, true]]);
      const agreed = computePlan("c", "", [{ path: "a.yaml", text: paused("a", false) }], [resumed], false);
      expect(agreed.desired.map(applied)).toEqual([["a", false, false]]);
      expect(agreed.plan.unchanged).toBe(1);
    });

    test("an adopted job keeps its paused state, whatever the manifest says", () => {
      const { plan, desired } = computePlan("c", "", [{ path: "a.yaml", text: manifest("a") }], [job("default", "a", false, { paused: true })], false);
      expect(desired.map(applied)).toEqual([["a", true, false]]);
      expect(plan.adopt[0]!.changes).toEqual([]);
    });
  });
});

describe("computePlan with the readings of the last plan", () => {
  const sha = (text: string) => new Bun.CryptoHasher("sha1").update(text).digest("hex");
  const withSha = (files: { path: string; text: string }[]) => files.map((f) => ({ ...f, sha: sha(f.text) }));
  const broken = "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  schedule: \"every tuesday\"\n";

  test("gives the plan a plan from scratch gives, commit after commit: changes, renames, breaks, duplicates, paused jobs", () => {
    const trees = [
      [{ path: "prod/a.yaml", text: manifest("a") }, { path: "prod/b.yaml", text: manifest("b") }, { path: "ci.yml", text: "on: push\n" }],
      [{ path: "prod/a.yaml", text: manifest("a", "@hourly") }, { path: "prod/b.yaml", text: manifest("b") }, { path: "bad.yaml", text: broken }],
      [{ path: "prod/renamed.yaml", text: manifest("a", "@hourly") }, { path: "prod/b.yaml", text: manifest("b") }, { path: "prod/twin.yaml", text: manifest("b") }],
      [{ path: "prod/b.yaml", text: manifest("b") }, { path: "many.yaml", text: manifest("one") + "---\n" + manifest("two") }],
    ];
    let previous: ReturnType<typeof computePlan>["readings"] | undefined;
    let current: CurrentJob[] = [job("prod", "b", true, { paused: true }, "prod/b.yaml"), job("default", "bad", true, {}, "bad.yaml")];
    for (const [i, tree] of trees.entries()) {
      const files = withSha(tree);
      const scratch = computePlan(`c${i}`, "", files, current, true);
      const reused = computePlan(`c${i}`, "", files, current, true, previous);
      expect(reused.plan).toEqual(scratch.plan);
      expect(reused.desired).toEqual(scratch.desired);
      previous = reused.readings;
      // The jobs as this commit leaves them, for the next.
      current = [...scratch.desired.map((d) => ({ spec: d.spec, managed: true, source_path: d.path, git_paused: d.git_paused })), ...current.filter((j) => !scratch.desired.some((d) => d.name === j.spec.name && d.namespace === j.spec.namespace) && !scratch.plan.delete.some((x) => x.name === j.spec.name))];
    }
  });

  test("a blob read before is not parsed again; a new path, a new blob or another root is", () => {
    const first = computePlan("c1", "", withSha([{ path: "prod/a.yaml", text: manifest("a") }]), [], false);
    // Same path and sha but another text: only a reused reading can still say "a".
    const lying = [{ path: "prod/a.yaml", text: manifest("other"), sha: sha(manifest("a")) }];
    expect(computePlan("c2", "", lying, [], false, first.readings).desired.map((d) => d.name)).toEqual(["a"]);
    expect(computePlan("c2", "", [{ ...lying[0]!, path: "prod/b.yaml" }], [], false, first.readings).desired.map((d) => d.name)).toEqual(["other"]);
    expect(computePlan("c2", "", [{ ...lying[0]!, sha: "0".repeat(40) }], [], false, first.readings).desired.map((d) => d.name)).toEqual(["other"]);
    expect(computePlan("c2", "prod", lying, [], false, first.readings).desired.map((d) => d.name)).toEqual(["other"]);
    // Files without a sha (a local tree's, from plan --dir) are always read.
    expect(computePlan("c2", "", [{ path: "prod/a.yaml", text: manifest("other") }], [], false, first.readings).desired.map((d) => d.name)).toEqual(["other"]);
  });

  test("keeps the readings of this tree only, and never changes a reading it was given", () => {
    const first = computePlan("c1", "", withSha([{ path: "a.yaml", text: manifest("a") }, { path: "b.yaml", text: manifest("b") }]), [], false);
    const frozen = JSON.stringify([...first.readings]);
    const second = computePlan("c2", "", withSha([{ path: "a.yaml", text: manifest("a") }]), [job("default", "a", true, { paused: true }, "a.yaml")], false, first.readings);
    expect([...second.readings.keys()]).toEqual([[...first.readings.keys()][0]]);
    expect(second.desired[0]!.spec.paused).toBe(true);
    expect(JSON.stringify([...first.readings])).toBe(frozen);
  });
});
