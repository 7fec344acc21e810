// The GitOps page's links to the forge, as pure views: an error links to its file and line at the
// commit on the remote's forge (GitHub, GitLab, Gitea/Forgejo, an ssh remote through https), and is
// plain text where the remote has no web page this knows (file://, an unknown host).
import { describe, expect, test } from "bun:test";
import type { GitopsSettings } from "../src/gitops/settings";
import type { Plan } from "../src/gitops/plan";
import { GitopsPlan, GitopsStatusPart, NEW_GITOPS, type GitopsView } from "./gitops";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const GOOD = "89abcdef0123456789abcdef0123456789abcdef";

function viewOf(url: string): GitopsView {
  const settings = { url, branch: "main", path: "", interval_s: 60 } as GitopsSettings;
  return {
    settings,
    webhookUrl: null,
    webhookSecret: null,
    status: {
      state: "degraded",
      commit: SHA,
      last_good_commit: GOOD,
      last_sync_at: "2026-11-24T12:00:00.000Z",
      next_sync_at: "2026-11-24T12:01:00.000Z",
      message: null,
      errors: [{ path: "staging/broken.yaml", line: 6, column: 3, message: "spec.schedule: <bad>" }],
      plan: { create: 0, update: 1, unchanged: 4, adopt: 0, delete: 0, orphan: 1 },
    },
    orphans: [{ namespace: "staging", name: "old", path: "staging/old.yaml" }],
    syncs: { syncs: [], next_cursor: null },
    olderSyncs: false,
    canAdmin: false,
    canWrite: true,
    values: NEW_GITOPS,
    errors: {},
    now: Date.parse("2026-11-24T12:00:30.000Z"),
  };
}

const status = async (url: string) => String(await GitopsStatusPart({ view: viewOf(url), csrf: "t" }));

describe("the status", () => {
  test("on GitHub, the error links to its file and line at the commit, and the commits to their pages", async () => {
    const html = await status("git@github.com:acme/jobs.git");
    expect(html).toContain(`<a href="https://github.com/acme/jobs/blob/${SHA}/staging/broken.yaml#L6" class="mono file-ref">staging/broken.yaml:6:3</a>`);
    expect(html).toContain(`<a href="https://github.com/acme/jobs/commit/${SHA}" class="mono" title="${SHA}">${SHA.slice(0, 12)}</a>`);
    expect(html).toContain(`<a href="https://github.com/acme/jobs/commit/${GOOD}"`);
    expect(html).toContain("spec.schedule: &lt;bad&gt;");
    expect(html).toContain('<a href="/jobs/staging/old">staging/old</a>');
    expect(html).toContain('data-gitops-state="degraded"');
    expect(html).toContain("Sync now");
  });

  test("on GitLab, /-/blob/; on Gitea and Forgejo, /src/commit/", async () => {
    expect(await status("https://gitlab.com/acme/ops/jobs.git")).toContain(`href="https://gitlab.com/acme/ops/jobs/-/blob/${SHA}/staging/broken.yaml#L6"`);
    expect(await status("https://codeberg.org/acme/jobs.git")).toContain(`href="https://codeberg.org/acme/jobs/src/commit/${SHA}/staging/broken.yaml#L6"`);
  });

  test("a file:// remote and an unknown forge: the path and line as plain text, no link", async () => {
    for (const url of ["file:///srv/git/jobs.git", "https://git.example.com/acme/jobs.git"]) {
      const html = await status(url);
      expect(html).toContain('<code class="file-ref">staging/broken.yaml:6:3</code>');
      expect(html).not.toContain("<a href=\"http");
    }
  });
});

describe("the plan", () => {
  const plan: Plan = {
    commit: SHA,
    create: [{ namespace: "prod", name: "backup", path: "prod/backup.yaml" }],
    update: [{ namespace: "prod", name: "report", path: "prod/report.yaml", changes: [{ field: "schedule", from: "@daily", to: "@weekly" }] }],
    adopt: [],
    delete: [],
    orphan: [{ namespace: "prod", name: "old", path: "prod/old.yaml" }],
    unchanged: 2,
    skipped: [".github/workflows/ci.yml"],
    errors: [{ path: "prod/broken.yaml", line: 2, column: 1, message: "bad" }],
  };

  test("each line says what a sync would do, files linked at the head's commit; an orphan's file (gone from it) is not", async () => {
    const html = String(await GitopsPlan({ url: "https://github.com/acme/jobs", outcome: { plan } }));
    expect(html).toContain(`<a href="https://github.com/acme/jobs/blob/${SHA}/prod/backup.yaml" class="mono file-ref">prod/backup.yaml</a>`);
    expect(html).toContain(`href="https://github.com/acme/jobs/blob/${SHA}/prod/broken.yaml#L2"`);
    expect(html).toContain('<code class="file-ref">prod/old.yaml</code>');
    expect(html).toContain("<code>schedule</code>: <code>&quot;@daily&quot;</code> → <code>&quot;@weekly&quot;</code>");
    expect(html).toContain("1 to create, 1 to update, 0 to adopt, 0 to delete; 2 unchanged.");
  });

  test("before it is loaded: a placeholder htmx fills after the page, with a link for a browser without the script", async () => {
    const html = String(await GitopsPlan({ url: "https://github.com/acme/jobs" }));
    expect(html).toContain('hx-get="/settings/gitops/plan" hx-trigger="load" hx-swap="outerHTML"');
    expect(html).toContain('<a href="/settings/gitops?plan=1#gitops-plan">Show the plan</a>');
    expect(html).not.toContain("hx-swap-oob");
  });
});
