// jobs export at the service: alice's acme jobs, written as files, read back by the one manifest
// parser as the very same jobs, for names, values and text that YAML likes to retype (numbers,
// booleans, null, @ and *, #, colons, multi-line annotations). globex's jobs never show.
import { describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { getJob, putJob, pauseJob, type Job } from "./jobs";
import { exportJobs } from "./export";
import { parseJob, parseJobDocuments, withDefaults, type JobSpec } from "./manifest";

const NOW = Date.UTC(2026, 11, 3, 12);

/** Every field a manifest carries. */
const SPEC_FIELDS: (keyof JobSpec)[] = [
  "name", "namespace", "labels", "annotations", "schedule", "timezone", "command", "args", "working_dir", "env", "grace_s",
  "timeout_s", "enabled", "paused", "agent_selector", "user", "alert_after", "min_runtime_s", "start_grace_s", "renotify_s", "channels",
];
const specOf = (job: JobSpec) => Object.fromEntries(SPEC_FIELDS.map((k) => [k, job[k]]));

function seedAcme() {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const put = (ns: string, name: string, doc: Record<string, unknown>) => putJob(db, acme, ns, name, doc, NOW).job;
  put("default", "db-backup", { schedule: "0 2 * * *", command: "pg_dump -Fc app > /backup/app.dump", labels: { env: "prod" } });
  // Names and values YAML would read as another type unless quoted.
  put("123", "yes", {
    schedule: "@daily",
    timezone: "America/Argentina/Buenos_Aires",
    labels: { on: "no", n: "0123", t: "true", z: "null", tilde: "~", star: "*x", at: "@here", "app.kubernetes.io/name": "a: b # c" },
    command: "echo \"it's 100%\" | tee -a '/var/log/x y.log' # not a comment",
    args: ["-n", "1e3", "", "- item", "[x]", "{y}"],
    working_dir: "/srv/my app",
    env: { EMPTY: "", NUM: "007", MULTI: "line one\nline two\n", LEAD: "  spaced  " },
  });
  put("staging", "null", {
    schedule: "@every 90s",
    timezone: "Asia/Kolkata",
    annotations: { note: "first line\n  indented second\n\nafter a blank line", quote: "'single' and \"double\"" },
    command: "/usr/local/bin/sync --from=a --to=b",
    grace: "1h30m",
    timeout: 3600,
    agent: { selector: { role: "db", "zone/region": "eu-west-1", on: "true" } },
    user: "DOMAIN\\svc-backup",
    alerts: { after: 3, min_runtime: "10s", start_grace: "2m", renotify: "1h", channels: ["ops", "on-call"] },
  });
  put("staging", "ping-only", { schedule: "*/5 * * * *", enabled: false });
  pauseJob(db, acme, "staging", "ping-only", NOW);
  putJob(db, globex, "default", "secret-job", { schedule: "@hourly" }, NOW);
  return { db, acme, globex };
}

describe("exportJobs", () => {
  test("writes one file per job at <namespace>/<name>.yaml, ordered, and none of another tenant's", () => {
    const { db, acme } = seedAcme();
    expect(exportJobs(db, acme).map((f) => f.path)).toEqual(["123/yes.yaml", "default/db-backup.yaml", "staging/null.yaml", "staging/ping-only.yaml"]);
  });

  test("each file parses with the manifest parser into exactly the job it came from", () => {
    const { db, acme } = seedAcme();
    const files = exportJobs(db, acme);
    expect(files).toHaveLength(4);
    for (const file of files) {
      const docs = parseJobDocuments(file.content);
      expect(docs).toHaveLength(1);
      const parsed = parseJob((docs[0] as { value: unknown }).value);
      expect(parsed.format).toBe("manifest");
      expect(parsed.warnings).toEqual([]);
      const [namespace, name] = file.path.replace(/\.yaml$/, "").split("/") as [string, string];
      const job: Job = getJob(db, acme, namespace, name);
      expect(specOf(withDefaults(parsed.fields))).toEqual(specOf(job));
    }
  });

  test("the round trip keeps what YAML would retype: the odd job's values are strings as given", () => {
    const { db, acme } = seedAcme();
    const file = exportJobs(db, acme).find((f) => f.path === "123/yes.yaml")!;
    const fields = withDefaults(parseJob(parseJobDocuments(file.content).map((d) => (d as { value: unknown }).value)[0]).fields);
    expect(fields.namespace).toBe("123");
    expect(fields.name).toBe("yes");
    expect(fields.labels.on).toBe("no");
    expect(fields.env.MULTI).toBe("line one\nline two\n");
    expect(fields.schedule).toBe("@daily");
  });

  test("--namespace: only that namespace's jobs; an unknown one gives none", () => {
    const { db, acme } = seedAcme();
    expect(exportJobs(db, acme, "staging").map((f) => f.path)).toEqual(["staging/null.yaml", "staging/ping-only.yaml"]);
    expect(exportJobs(db, acme, "nope")).toEqual([]);
  });

  test("pages past 500 jobs", () => {
    const db = openDb(":memory:");
    migrate(db);
    const t = createTenant(db, { slug: "big" }, null).id;
    for (let i = 0; i < 501; i++) putJob(db, t, "default", `job-${String(i).padStart(3, "0")}`, { schedule: "@hourly" }, NOW);
    const files = exportJobs(db, t);
    expect(files).toHaveLength(501);
    expect(files.at(-1)!.path).toBe("default/job-500.yaml");
  });
});


