// The plan as `crontopus gitops plan` prints it: each kind of line, the summary, colour only
// when asked, and the exit code of --exit-code (0 nothing to do, 2 changes, 1 any error).
import { describe, expect, test } from "bun:test";
import { planExitCode, planSummary, renderPlan, type PlanJson } from "./render";

const empty = (): PlanJson => ({ commit: null, create: [], update: [], adopt: [], delete: [], orphan: [], unchanged: 0, skipped: [], errors: [] });
const plan = (p: Partial<PlanJson>): PlanJson => ({ ...empty(), ...p });
const lines = (text: string) => text.split("\n");

const backup = { namespace: "production", name: "db-backup", path: "production/db-backup.yaml" };

describe("renderPlan", () => {
  test("a create is `+ create ns/name (path)`", () => {
    expect(lines(renderPlan(plan({ create: [backup] })))).toContain("+ create production/db-backup (production/db-backup.yaml)");
  });

  test("an update lists each changed field indented, from → to, strings quoted as in the API", () => {
    const text = renderPlan(plan({
      update: [{ ...backup, changes: [
        { field: "schedule", from: "0 2 * * *", to: "0 3 * * *" },
        { field: "labels", from: { env: "prod" }, to: {} },
        { field: "timeout", from: null, to: 3600 },
      ] }],
    }));
    const l = lines(text);
    const at = l.indexOf("~ update production/db-backup (production/db-backup.yaml)");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(l.slice(at + 1, at + 4)).toEqual([
      '    schedule: "0 2 * * *" → "0 3 * * *"',
      '    labels: {"env":"prod"} → {}',
      "    timeout: null → 3600",
    ]);
  });

  test("adopt, delete and orphan have their own marks", () => {
    const l = lines(renderPlan(plan({ adopt: [backup], delete: [{ ...backup, name: "old" }], orphan: [{ ...backup, name: "gone" }] })));
    expect(l).toContain("= adopt production/db-backup (production/db-backup.yaml)");
    expect(l).toContain("- delete production/old (production/db-backup.yaml)");
    expect(l).toContain("? orphan production/gone (production/db-backup.yaml)");
  });

  test("an error says path:line:column and the message; skipped files are listed", () => {
    const l = lines(renderPlan(plan({
      errors: [
        { path: "staging/broken.yaml", line: 7, column: 3, message: "spec.schedule: expected 5 fields" },
        { path: "dup.yaml", line: null, column: null, message: "defines staging/x, as does other.yaml" },
      ],
      skipped: [".github/workflows/ci.yml"],
    })));
    expect(l).toContain("! error staging/broken.yaml:7:3 spec.schedule: expected 5 fields");
    expect(l).toContain("! error dup.yaml defines staging/x, as does other.yaml");
    expect(l).toContain("  skipped .github/workflows/ci.yml");
  });

  test("ends with the summary line, after the commit and the changes", () => {
    const text = renderPlan(plan({
      commit: "3f94756",
      create: [backup, { ...backup, name: "b" }],
      update: [{ ...backup, changes: [] }],
      adopt: [{ ...backup, name: "c" }],
      unchanged: 3,
      errors: [{ path: "x.yaml", line: 1, column: 1, message: "invalid YAML" }],
    }));
    expect(text).toStartWith("Commit 3f94756\n\n");
    expect(text).toEndWith("\n\nPlan: 2 to create, 1 to update, 0 to delete, 1 to adopt; 3 unchanged; 1 error.\n");
  });

  test("an empty plan is the summary alone; orphans and skipped files are counted when there are some", () => {
    expect(renderPlan(empty())).toBe("Plan: 0 to create, 0 to update, 0 to delete, 0 to adopt; 0 unchanged; 0 errors.\n");
    expect(planSummary(plan({ orphan: [backup], skipped: ["a.yml", "b.yml"], unchanged: 1 })))
      .toBe("Plan: 0 to create, 0 to update, 0 to delete, 0 to adopt; 1 unchanged; 1 orphaned; 2 skipped; 0 errors.");
  });

  test("no colour unless asked; with colour each mark has its own", () => {
    const p = plan({ create: [backup], delete: [backup], errors: [{ path: "x.yaml", line: 2, column: 5, message: "bad" }] });
    expect(renderPlan(p)).not.toContain("\x1b[");
    const coloured = renderPlan(p, { colour: true });
    expect(coloured).toContain("\x1b[32m+ create production/db-backup");
    expect(coloured).toContain("\x1b[31m- delete production/db-backup");
    expect(coloured).toContain("\x1b[31m! error x.yaml:2:5 bad");
    expect(coloured.replace(/\x1b\[\d+m/g, "")).toBe(renderPlan(p));
  });

  test("control characters from the repository are shown escaped, never sent to the terminal", () => {
    const text = renderPlan(plan({
      create: [{ namespace: "default", name: "x", path: "evil\x1b[2J.yaml" }],
      errors: [{ path: "a.yaml", line: 1, column: 1, message: "line one\nline two" }],
    }));
    expect(text).not.toContain("\x1b");
    expect(text).toContain("+ create default/x (evil\\x1b[2J.yaml)");
    expect(text).toContain("! error a.yaml:1:1 line one\\x0aline two");
  });
});

describe("planExitCode", () => {
  test("0 when nothing would change, even with orphans, skipped files and unchanged jobs", () => {
    expect(planExitCode(empty())).toBe(0);
    expect(planExitCode(plan({ unchanged: 5, orphan: [backup], skipped: ["a.yml"] }))).toBe(0);
  });

  test("2 for any create, update, adopt or delete", () => {
    expect(planExitCode(plan({ create: [backup] }))).toBe(2);
    expect(planExitCode(plan({ update: [{ ...backup, changes: [{ field: "paused", from: false, to: true }] }] }))).toBe(2);
    expect(planExitCode(plan({ adopt: [backup] }))).toBe(2);
    expect(planExitCode(plan({ delete: [backup] }))).toBe(2);
  });

  test("1 for any error, changes or not", () => {
    const error = { path: "x.yaml", line: 1, column: 1, message: "bad" };
    expect(planExitCode(plan({ errors: [error] }))).toBe(1);
    expect(planExitCode(plan({ create: [backup], errors: [error] }))).toBe(1);
  });
});
