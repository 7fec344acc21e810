// When a GitOps sync alerts: once when its state leaves ok, once when it comes back. Pure.
import { describe, expect, test } from "bun:test";
import { gitopsAlertEvent, gitopsReason } from "./alerts";

describe("gitopsAlertEvent", () => {
  test("leaving ok for degraded or failing triggers; further bad syncs, either way between them, do not", () => {
    expect(gitopsAlertEvent(false, "degraded")).toBe("trigger");
    expect(gitopsAlertEvent(false, "failing")).toBe("trigger");
    expect(gitopsAlertEvent(true, "degraded")).toBeNull();
    expect(gitopsAlertEvent(true, "failing")).toBeNull();
  });

  test("the first ok sync with an alert open resolves it; ok without one is no news", () => {
    expect(gitopsAlertEvent(true, "ok")).toBe("resolve");
    expect(gitopsAlertEvent(false, "ok")).toBeNull();
  });
});

describe("gitopsReason", () => {
  const commit = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
  const error = { path: "a.yaml", line: 1, column: 1, message: "bad" };

  test("says what the sync did in a few words, with the short commit", () => {
    expect(gitopsReason({ state: "ok", commit, message: null, errors: [] })).toBe("commit 1a2b3c4d5e6f synced");
    expect(gitopsReason({ state: "degraded", commit, message: null, errors: [error] })).toBe("1 file error in commit 1a2b3c4d5e6f; the rest was applied");
    expect(gitopsReason({ state: "degraded", commit, message: null, errors: [error, error] })).toBe("2 file errors in commit 1a2b3c4d5e6f; the rest was applied");
  });

  test("a failing sync's reason is its message on one line, cut at 300 characters", () => {
    expect(gitopsReason({ state: "failing", commit: null, message: "git fetch failed:\n  fatal: couldn't find remote ref main", errors: [] })).toBe(
      "git fetch failed: fatal: couldn't find remote ref main",
    );
    const long = gitopsReason({ state: "failing", commit: null, message: "x".repeat(1000), errors: [] });
    expect(long.length).toBe(300);
    expect(long).toEndWith("…");
  });
});
