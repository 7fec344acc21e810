import { describe, expect, test } from "bun:test";
import type { Invalid } from "../errors";
import { invalid } from "../../test/thrown";
import { DEFAULT_GRACE_S, parseJob, parseJobText, toManifest, withDefaults, type JobSpec } from "./manifest";


const yaml = (text: string) => parseJobText(text, "application/yaml");

/** A crontopus/v1 manifest with `spec` merged over a minimal valid one. */
function manifest(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) {
  return {
    apiVersion: "crontopus/v1",
    kind: "Job",
    metadata: { name: "nightly-backup", ...metadata },
    spec: { schedule: "0 2 * * *", ...spec },
  };
}

/** Alice's nightly backup, with every field set. */
const aliceBackup: JobSpec = {
  name: "nightly-backup",
  namespace: "ops",
  labels: { team: "storage", tier: "1" },
  annotations: { "crontopus.io/owner": "alice@example.com" },
  schedule: "30 2 * * *",
  timezone: "Europe/Berlin",
  command: "/usr/local/bin/backup",
  args: ["--full", "--target", "s3://backups"],
  working_dir: "/var/backups",
  env: { MODE: "full", RETRIES: "3" },
  grace_s: 900,
  timeout_s: 5400,
  enabled: true,
  paused: false,
  agent_selector: { role: "db", region: "eu-1" },
  user: "backup",
  alert_after: 2,
  min_runtime_s: 30,
  start_grace_s: 120,
  renotify_s: 3600,
  channels: ["ops", "pager"],
};

describe("parseJobText", () => {
  test("reads a JSON body", () => {
    expect(parseJobText('{"name": "a", "schedule": "@daily"}', "application/json; charset=utf-8")).toEqual([
      { name: "a", schedule: "@daily" },
    ]);
  });

  test("reads a YAML body", () => {
    expect(yaml("name: a\nschedule: '@daily'\n")).toEqual([{ name: "a", schedule: "@daily" }]);
  });

  test.each(["application/x-yaml", "text/yaml", "application/yaml; charset=utf-8"])("treats %p as YAML", (type) => {
    expect(parseJobText("name: a", type)).toEqual([{ name: "a" }]);
  });

  test("reads every document of a multi-document YAML file, skipping empty ones", () => {
    const text = [
      "# jobs for the ops team",
      "---",
      "name: first",
      "---",
      "",
      "---",
      "name: second",
      "...",
      "--- # third",
      "name: third",
      "---",
    ].join("\n");
    expect(yaml(text)).toEqual([{ name: "first" }, { name: "second" }, { name: "third" }]);
  });

  test("reads a single document that opens with --- as one job, not a list", () => {
    expect(yaml("---\nname: only\n")).toEqual([{ name: "only" }]);
  });

  test("keeps an indented --- inside a block scalar as text", () => {
    expect(yaml("name: a\nannotations:\n  notes: |\n    before\n    ---\n    after\n")).toEqual([
      { name: "a", annotations: { notes: "before\n---\nafter\n" } },
    ]);
  });

  test("reads a top-level list as several jobs, in JSON and in YAML", () => {
    expect(parseJobText('[{"name": "a"}, {"name": "b"}]', "application/json")).toEqual([{ name: "a" }, { name: "b" }]);
    expect(yaml("- name: a\n- name: b\n")).toEqual([{ name: "a" }, { name: "b" }]);
  });

  test("guesses the format when no content type is given", () => {
    expect(parseJobText('{"name": "a"}')).toEqual([{ name: "a" }]);
    expect(parseJobText("name: a")).toEqual([{ name: "a" }]);
    expect(parseJobText("{name: a, schedule: '@daily'}")).toEqual([{ name: "a", schedule: "@daily" }]);
  });

  test("ignores a byte-order mark", () => {
    expect(parseJobText('\uFEFF{"name": "a"}', "application/json")).toEqual([{ name: "a" }]);
  });

  test("keeps YAML 1.2 scalars as YAML 1.2 reads them (yes stays a string)", () => {
    expect(yaml("a: yes\nb: on\nc: 010\nd: 2026-01-01")).toEqual([{ a: "yes", b: "on", c: 10, d: "2026-01-01" }]);
  });

  test.each([
    ["", "body: is empty; expected a job as JSON or YAML"],
    ["  \n ", "body: is empty; expected a job as JSON or YAML"],
    ["# only a comment\n---\n", "body: holds no job: the YAML documents are empty"],
  ])("rejects the empty body %p", (text, message) => {
    expect(invalid(() => yaml(text)).message).toBe(message);
  });

  describe("reports the line of a YAML syntax error", () => {
    test("an unclosed quote, at the line that opens it", () => {
      const e = invalid(() => yaml("name: a\nspec:\n  schedule: '0 * * * *\n  timezone: UTC\n"));
      expect(e.field).toBe("body");
      expect(e.message).toStartWith("body: invalid YAML at line 3: ");
      expect(e.message).toContain(`(near "schedule: '0 * * * *")`);
    });

    test("an unclosed bracket", () => {
      expect(invalid(() => yaml("name: a\nlabels: [a, b\nschedule: '@daily'\n")).message).toStartWith("body: invalid YAML at line 2: ");
    });

    test("a tab used for indentation", () => {
      expect(invalid(() => yaml("name: a\nspec:\n\tschedule: x\n")).message).toBe(
        'body: invalid YAML at line 3: Tab characters cannot be used as indentation (near "schedule: x")',
      );
    });

    test.each(["schedule: @daily", "schedule: */5 * * * *"])("an unquoted %p, saying to quote it", (line) => {
      expect(invalid(() => yaml(`name: a\n${line}\n`)).message).toStartWith("body: invalid YAML at line 2: ");
      expect(invalid(() => yaml(`name: a\n${line}\n`)).message).toEndWith('; quote values that start with @ or *, e.g. schedule: "@daily"');
    });

    test("in a later document, counting lines from the top of the file", () => {
      expect(invalid(() => yaml("name: a\n---\nname: b\nlabels: {x: 1\n")).message).toStartWith("body: invalid YAML at line 4: ");
    });
  });

  describe("reports the line and column of a JSON syntax error", () => {
    test.each([
      ['{\n  "name": "a",\n  "schedule": "@daily",\n}', "line 4, column 1: trailing comma before \"}\""],
      ['{\n  name: "a"\n}', "line 2, column 3: expected a property name in double quotes"],
      ['{"name": "a" "schedule": "@daily"}', 'line 1, column 14: expected "," or "}"'],
      ['{"name": "a}', "line 1, column 13: unterminated string"],
      ['{"name": "a"} x', "line 1, column 15: unexpected text after the JSON value"],
      ['{"args": [1, 2,]}', 'trailing comma before "]"'],
      ['{"name": tru}', 'line 1, column 10: unexpected "t"'],
    ])("%p", (text, where) => {
      const e = invalid(() => parseJobText(text, "application/json"));
      expect(e.field).toBe("body");
      expect(e.message).toStartWith("body: invalid JSON at line ");
      expect(e.message).toContain(where);
    });
  });
});

describe("parseJob reads a crontopus/v1 manifest", () => {
  test("with every field", () => {
    const parsed = parseJob(
      yaml(`
apiVersion: crontopus/v1
kind: Job
metadata:
  name: nightly-backup
  namespace: ops
  labels: {team: storage, tier: 1}
  annotations:
    crontopus.io/owner: alice@example.com
spec:
  schedule: "30 2 * * *"
  timezone: Europe/Berlin
  command: /usr/local/bin/backup
  args: [--full, --target, "s3://backups"]
  workingDir: /var/backups
  env:
    MODE: full
    RETRIES: 3
  grace: 15m
  timeout: 1h30m
  enabled: true
  paused: false
  agent:
    selector: {role: db, region: eu-1}
  user: backup
  alerts:
    after: 2
    minRuntime: 30s
    startGrace: 2m
    renotify: 1h
    channels: [ops, pager]
`)[0],
    );
    expect(parsed).toEqual({ fields: aliceBackup, warnings: [], format: "manifest" });
  });

  test("with env as a list of name/value pairs", () => {
    const { fields } = parseJob(manifest({ env: [{ name: "MODE", value: "full" }, { name: "EMPTY" }, { name: "N", value: 1 }] }));
    expect(fields.env).toEqual({ MODE: "full", EMPTY: "", N: "1" });
  });

  test("normalising the schedule it stores", () => {
    expect(parseJob(manifest({ schedule: "  0   2 * *  * " })).fields.schedule).toBe("0 2 * * *");
    expect(parseJob(manifest({ schedule: "@every 300" })).fields.schedule).toBe("@every 5m");
  });

  test("returning only the fields it was given", () => {
    expect(parseJob(manifest()).fields).toEqual({ name: "nightly-backup", schedule: "0 2 * * *" });
  });

  test.each([
    [{ apiVersion: "crontopus/v2" }, "apiVersion", 'apiVersion: unsupported "crontopus/v2"; use crontopus/v1'],
    [{ apiVersion: undefined }, "apiVersion", "apiVersion: is required: use crontopus/v1"],
    [{ kind: "CronJob" }, "kind", 'kind: unsupported "CronJob"; use Job'],
    [{ kind: undefined }, "kind", "kind: is required: use Job"],
    [{ metadata: "backup" }, "metadata", "metadata: expected an object, got a string"],
    [{ spec: ["0 2 * * *"] }, "spec", "spec: expected an object, got a list"],
  ])("rejecting the envelope %p", (change, field, message) => {
    const doc: Record<string, unknown> = { ...manifest(), ...change };
    for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
    const e = invalid(() => parseJob(doc));
    expect(e.field).toBe(field);
    expect(e.message).toBe(message);
  });

  test("requiring a schedule and a name", () => {
    expect(invalid(() => parseJob({ ...manifest(), spec: {} })).message).toBe("spec.schedule: is required");
    expect(invalid(() => parseJob({ ...manifest(), metadata: {} })).message).toBe("metadata.name: is required");
    expect(invalid(() => parseJob(manifest({ schedule: null }))).message).toBe("spec.schedule: is required");
  });

  test("listing every unknown field, at every level, as a warning", () => {
    const doc = {
      ...manifest({ foo: 1, agent: { selector: { role: "db" }, bar: 2 }, working_dir: "/tmp" }, { uid: "123" }),
      status: { phase: "up" },
    };
    expect(parseJob(doc).warnings).toEqual([
      "unknown field status (ignored)",
      "unknown field metadata.uid (ignored)",
      "unknown field spec.foo (ignored)",
      "unknown field spec.agent.bar (ignored)",
      "unknown field spec.working_dir (ignored; did you mean spec.workingDir?)",
    ]);
  });

  test("treating metadata fields found in spec as unknown", () => {
    expect(parseJob(manifest({ name: "other" })).warnings).toEqual(["unknown field spec.name (ignored)"]);
  });

  test("returning metadata.tenant for the caller to compare", () => {
    expect(parseJob(manifest({}, { tenant: "acme" })).tenant).toBe("acme");
    expect(parseJob(manifest()).tenant).toBeUndefined();
  });
});

describe("parseJob maps legacy v1 manifests", () => {
  const legacy = (spec: Record<string, unknown>) => ({ ...manifest(spec), apiVersion: "v1" });

  test("with a warning about the apiVersion", () => {
    expect(parseJob(legacy({})).warnings).toEqual(["apiVersion v1 is legacy; use crontopus/v1"]);
  });

  test("spec.environment to env", () => {
    const parsed = parseJob(legacy({ environment: [{ name: "MODE", value: "full" }] }));
    expect(parsed.fields.env).toEqual({ MODE: "full" });
    expect(parsed.warnings).toEqual(["apiVersion v1 is legacy; use crontopus/v1"]);
  });

  test("spec.checkin.timeout (seconds) to timeout", () => {
    expect(parseJob(legacy({ checkin: { timeout: 3600 } })).fields.timeout_s).toBe(3600);
    expect(parseJob(legacy({ checkIn: { timeout: "2h" } })).fields.timeout_s).toBe(7200);
  });

  test("spec.checkin.timeout giving way to spec.timeout, with a warning", () => {
    const parsed = parseJob(legacy({ timeout: "10m", checkin: { timeout: 3600 } }));
    expect(parsed.fields.timeout_s).toBe(600);
    expect(parsed.warnings).toContain("spec.checkin.timeout is ignored because spec.timeout is set");
  });

  test("spec.checkin.secret to a warning", () => {
    expect(parseJob(legacy({ checkin: { secret: "s3cret" } })).warnings).toContain(
      "spec.checkin.secret is ignored: each job gets its own ping URL",
    );
  });

  test("spec.checkin.enabled: false to a warning that monitoring stays on", () => {
    const parsed = parseJob(legacy({ checkin: { enabled: false } }));
    expect(parsed.warnings).toContain(
      "spec.checkin.enabled: false is ignored: every job is monitored; set spec.paused: true to silence its alerts",
    );
    expect(parsed.fields.paused).toBeUndefined();
    expect(parseJob(legacy({ checkin: { enabled: true } })).warnings).toEqual(["apiVersion v1 is legacy; use crontopus/v1"]);
  });

  test("spec.retry to a warning that Crontopus never re-runs jobs", () => {
    expect(parseJob(legacy({ retry: { attempts: 3 } })).warnings).toContain(
      "spec.retry is not supported (ignored): Crontopus never re-runs jobs; the host's scheduler runs them",
    );
  });

  test("unknown fields inside spec.checkin to warnings", () => {
    expect(parseJob(legacy({ checkin: { grace: 5 } })).warnings).toContain("unknown field spec.checkin.grace (ignored)");
  });

  test("legacy fields in a crontopus/v1 manifest too, pointing at the new names", () => {
    const parsed = parseJob(manifest({ environment: [{ name: "A", value: "1" }], checkin: { timeout: 60 } }));
    expect(parsed.fields).toMatchObject({ env: { A: "1" }, timeout_s: 60 });
    expect(parsed.warnings).toEqual(["spec.environment is the legacy name of spec.env; use spec.env"]);
  });

  test("rejecting spec.environment together with spec.env", () => {
    expect(invalid(() => parseJob(legacy({ env: { A: "1" }, environment: [] }))).field).toBe("spec.environment");
  });

  test("rejecting a checkin.enabled that is not a boolean", () => {
    expect(invalid(() => parseJob(legacy({ checkin: { enabled: "no" } }))).message).toBe(
      'spec.checkin.enabled: expected true or false, got "no"',
    );
  });
});

describe("parseJob reads plain JSON", () => {
  test("in the API's snake_case shape", () => {
    const parsed = parseJob({
      name: "nightly-backup",
      namespace: "ops",
      labels: { team: "storage", tier: "1" },
      annotations: { "crontopus.io/owner": "alice@example.com" },
      schedule: "30 2 * * *",
      timezone: "Europe/Berlin",
      command: "/usr/local/bin/backup",
      args: ["--full", "--target", "s3://backups"],
      working_dir: "/var/backups",
      env: { MODE: "full", RETRIES: "3" },
      grace: 900,
      timeout: "1h30m",
      enabled: true,
      paused: false,
      agent: { selector: { role: "db", region: "eu-1" } },
      user: "backup",
      alerts: { after: 2, min_runtime: 30, start_grace: "2m", renotify: 3600, channels: ["ops", "pager"] },
    });
    expect(parsed).toEqual({ fields: aliceBackup, warnings: [], format: "plain" });
  });

  test("taking a GET response back without warnings", () => {
    const got = {
      id: "0192f0c4-7d1e-7000-8000-000000000001",
      namespace: "ops",
      name: "nightly-backup",
      status: "up",
      labels: aliceBackup.labels,
      annotations: aliceBackup.annotations,
      schedule: "30 2 * * *",
      schedule_description: "At 02:30 (Europe/Berlin)",
      timezone: "Europe/Berlin",
      next_runs: ["2026-01-02T02:30:00+01:00"],
      command: aliceBackup.command,
      args: aliceBackup.args,
      working_dir: aliceBackup.working_dir,
      env: aliceBackup.env,
      grace: 900,
      timeout: 5400,
      enabled: true,
      paused: false,
      agent: { selector: aliceBackup.agent_selector },
      user: aliceBackup.user,
      alerts: { after: 2, min_runtime: 30, start_grace: 120, renotify: 3600, channels: ["ops", "pager"] },
      ping_url: "https://crontopus.example.com/ping/abc",
      badge_url: "https://crontopus.example.com/badge/k/ops/nightly-backup.svg",
      consecutive_failures: 0,
      checkins_total: 3,
      expected_at: "2026-01-02T02:30:00+01:00",
      status_since: "2026-01-01T02:30:05.000Z",
      created_at: "2026-01-01T00:00:00.000Z",
      updated_at: "2026-01-01T00:00:00.000Z",
      last_ping_at: "2026-01-01T02:30:05.000Z",
      last_duration_s: 12,
      tenant: "acme",
      warnings: [],
    };
    const parsed = parseJob(got, { namespace: "ops", name: "nightly-backup" });
    expect(parsed).toEqual({ fields: aliceBackup, warnings: [], format: "plain" });
  });

  test("taking agent: null (what GET returns without a selector) as no selector", () => {
    expect(parseJob({ name: "a", schedule: "@daily", agent: null }).fields.agent_selector).toBeNull();
  });

  test("listing unknown fields as warnings, with a pointer for the usual mix-ups", () => {
    const parsed = parseJob({ name: "a", schedule: "@daily", workingDir: "/tmp", grace_s: 60, agent: { selector: null, pool: "x" }, colour: "red" });
    expect(parsed.warnings).toEqual([
      "unknown field workingDir (ignored; did you mean working_dir?)",
      "unknown field grace_s (ignored; did you mean grace?)",
      "unknown field agent.pool (ignored)",
      "unknown field colour (ignored)",
    ]);
  });

  test("not reporting a tenant, which plain JSON cannot choose", () => {
    expect(parseJob({ name: "a", schedule: "@daily", tenant: "other" }).tenant).toBeUndefined();
  });

  test("requiring a schedule and a name, by their plain paths", () => {
    expect(invalid(() => parseJob({ name: "a" })).message).toBe("schedule: is required");
    expect(invalid(() => parseJob({ schedule: "@daily" })).message).toBe("name: is required");
  });

  test("rejecting a document that is not an object", () => {
    expect(invalid(() => parseJob("0 2 * * *")).message).toBe("body: expected a job object, got a string");
    expect(invalid(() => parseJob([{ name: "a" }])).message).toBe("body: expected a job object, got a list");
    expect(invalid(() => parseJob(null)).message).toBe("body: expected a job object, got null");
  });
});

describe("parseJob checks what fields mean, naming the path the user wrote", () => {
  function rejectSpec(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Invalid {
    return invalid(() => parseJob(manifest(spec, metadata)));
  }

  test.each([
    ["Nightly", "must be 1-63 lower-case letters"],
    ["nightly_backup", "must be 1-63 lower-case letters"],
    ["-nightly", "must be 1-63 lower-case letters"],
    ["nightly-", "must be 1-63 lower-case letters"],
    ["", "must be 1-63 lower-case letters"],
    ["a".repeat(64), "must be 1-63 lower-case letters"],
    [7, "expected a string, got a number (quote it in YAML)"],
  ])("the name %p", (name, message) => {
    const e = rejectSpec({}, { name });
    expect(e.field).toBe("metadata.name");
    expect(e.message).toContain(message);
  });

  test("accepts a 63-character name and single characters", () => {
    expect(parseJob(manifest({}, { name: "a".repeat(63) })).fields.name).toBe("a".repeat(63));
    expect(parseJob(manifest({}, { name: "7" })).fields.name).toBe("7");
  });

  test("the namespace, by the same rule", () => {
    expect(rejectSpec({}, { namespace: "Ops" }).field).toBe("metadata.namespace");
  });

  test("labels: numbers and booleans become strings", () => {
    expect(parseJob(manifest({}, { labels: { tier: 1, critical: true, ratio: 0.5 } })).fields.labels).toEqual({
      tier: "1",
      critical: "true",
      ratio: "0.5",
    });
  });

  test.each([
    [{ team: { name: "ops" } }, "metadata.labels.team", "expected a string, got an object"],
    [{ team: ["ops"] }, "metadata.labels.team", "expected a string, got a list"],
    [{ team: null }, "metadata.labels.team", 'expected a string, got null (write "" for an empty value)'],
    [{ "bad key": "x" }, "metadata.labels", 'key "bad key" must be 1-63 characters'],
    [{ ["k".repeat(64)]: "x" }, "metadata.labels", "must be 1-63 characters"],
  ])("labels %p", (labels, field, message) => {
    const e = rejectSpec({}, { labels });
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
  });

  test("labels as a list", () => {
    expect(rejectSpec({}, { labels: ["team=ops"] }).message).toBe("metadata.labels: expected an object, got a list");
  });

  test("annotations and the agent selector, as string maps", () => {
    expect(rejectSpec({}, { annotations: { note: { a: 1 } } }).field).toBe("metadata.annotations.note");
    expect(rejectSpec({ agent: { selector: { role: [1] } } }).field).toBe("spec.agent.selector.role");
    expect(rejectSpec({ agent: "db" }).message).toBe("spec.agent: expected an object, got a string");
  });

  test.each([
    [{ "1ST": "x" }, "spec.env", '"1ST" is not a valid variable name'],
    [{ "MY-VAR": "x" }, "spec.env", '"MY-VAR" is not a valid variable name'],
    [[{ name: "A", value: "1" }, { name: "A", value: "2" }], "spec.env[1].name", '"A" is set twice'],
    [[{ value: "1" }], "spec.env[0].name", "is required"],
    [[{ name: 5, value: "1" }], "spec.env[0].name", "expected a string, got a number"],
    [[{ name: "A", valueFrom: { secret: "x" } }], "spec.env[0].valueFrom", 'each entry has only "name" and "value"'],
    [["A=1"], "spec.env[0]", "expected an object, got a string"],
  ])("env %p", (env, field, message) => {
    const e = rejectSpec({ env });
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
  });

  test("the schedule, through parseSchedule", () => {
    const e = rejectSpec({ schedule: "0 0 * * 5#2" });
    expect(e.field).toBe("spec.schedule");
    expect(e.message).toContain('"#" (nth weekday of the month) is not classic cron syntax');
  });

  test("the timezone", () => {
    expect(rejectSpec({ timezone: "Mars/Olympus" }).message).toContain('spec.timezone: unknown time zone "Mars/Olympus"');
  });

  test.each([
    [{ grace: "5x" }, "spec.grace", "is not a duration"],
    [{ grace: 0 }, "spec.grace", "must be at least 1s"],
    [{ grace: -5 }, "spec.grace", "must not be negative"],
    [{ timeout: "0s" }, "spec.timeout", "must be at least 1s"],
    [{ timeout: "400d" }, "spec.timeout", "too long"],
    [{ timeout: true }, "spec.timeout", "got true"],
  ])("durations %p", (spec, field, message) => {
    const e = rejectSpec(spec);
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
  });

  test("grace and timeout as seconds or duration strings", () => {
    expect(parseJob(manifest({ grace: 90, timeout: "2h" })).fields).toMatchObject({ grace_s: 90, timeout_s: 7200 });
  });

  test.each([
    [{ command: "" }, "spec.command", "is empty; leave it out (or null) for a job that only pings"],
    [{ command: "   " }, "spec.command", "is empty"],
    [{ command: "backup\nrm -rf /" }, "spec.command", "must be a single line"],
    [{ command: ["backup"] }, "spec.command", "expected a string or null, got a list"],
    [{ command: "backup", args: "--full" }, "spec.args", "expected a list of strings, got a string"],
    [{ command: "backup", args: ["--full", { a: 1 }] }, "spec.args[1]", "expected a string, got an object"],
    [{ args: ["--full"] }, "spec.args", "needs a command: args are passed to the command"],
    [{ workingDir: "" }, "spec.workingDir", "is empty"],
    [{ enabled: "yes" }, "spec.enabled", 'expected true or false, got "yes"'],
    [{ paused: 1 }, "spec.paused", "expected true or false, got a number"],
  ])("%p", (spec, field, message) => {
    const e = rejectSpec(spec);
    expect(e.field).toBe(field);
    expect(e.message).toContain(message);
  });

  test("a null command makes a ping-only job", () => {
    expect(parseJob(manifest({ command: null })).fields.command).toBeNull();
  });

  test("args: numbers become strings", () => {
    expect(parseJob(manifest({ command: "backup", args: ["--retries", 3, true] })).fields.args).toEqual(["--retries", "3", "true"]);
  });

  test("uses plain paths for plain JSON", () => {
    expect(invalid(() => parseJob({ name: "a", schedule: "61 * * * *" })).field).toBe("schedule");
    expect(invalid(() => parseJob({ name: "a", schedule: "@daily", working_dir: "" })).field).toBe("working_dir");
    expect(invalid(() => parseJob({ name: "a", schedule: "@daily", agent: { selector: { r: {} } } })).field).toBe("agent.selector.r");
  });

  test("null resets a field to its default", () => {
    const { fields } = parseJob(
      manifest({ timezone: null, grace: null, timeout: null, enabled: null, paused: null, env: null, args: null, workingDir: null }, {
        labels: null,
      }),
    );
    expect(fields).toEqual({
      name: "nightly-backup",
      schedule: "0 2 * * *",
      labels: {},
      timezone: "UTC",
      grace_s: DEFAULT_GRACE_S,
      timeout_s: null,
      enabled: true,
      paused: false,
      env: {},
      args: [],
      working_dir: null,
    });
  });
});

describe("parseJob with options from the URL", () => {
  test("partial: requires nothing and returns only what was sent", () => {
    expect(parseJob({ paused: true }, { partial: true })).toEqual({ fields: { paused: true }, warnings: [], format: "plain" });
    expect(parseJob({ spec: { timezone: "utc" } }, { partial: true }).fields).toEqual({ timezone: "UTC" });
  });

  test("partial still checks what was sent", () => {
    expect(invalid(() => parseJob({ grace: "later" }, { partial: true })).field).toBe("grace");
  });

  test("fills in the name and namespace when the document has none", () => {
    const { fields } = parseJob({ schedule: "@daily" }, { name: "nightly-backup", namespace: "ops" });
    expect(fields).toEqual({ schedule: "@daily", name: "nightly-backup", namespace: "ops" });
  });

  test("accepts a document whose name matches the URL", () => {
    expect(parseJob(manifest(), { name: "nightly-backup" }).fields.name).toBe("nightly-backup");
  });

  test("rejects a document whose name or namespace differs from the URL", () => {
    const byName = invalid(() => parseJob(manifest(), { name: "weekly-backup" }));
    expect(byName.field).toBe("metadata.name");
    expect(byName.message).toBe('metadata.name: does not match the URL (weekly-backup): got "nightly-backup"');
    expect(invalid(() => parseJob({ name: "a", namespace: "dev", schedule: "@daily" }, { namespace: "ops" })).field).toBe("namespace");
  });

  test("rejects a URL name that breaks the naming rule", () => {
    expect(invalid(() => parseJob({ schedule: "@daily" }, { name: "Bad Name" })).field).toBe("name");
  });
});

describe("withDefaults", () => {
  test("fills every field a create did not set", () => {
    expect(withDefaults({ name: "a", schedule: "@daily" })).toEqual({
      name: "a",
      namespace: "default",
      labels: {},
      annotations: {},
      schedule: "@daily",
      timezone: "UTC",
      command: null,
      args: [],
      working_dir: null,
      env: {},
      grace_s: 300,
      timeout_s: null,
      enabled: true,
      paused: false,
      agent_selector: null,
      user: null,
      alert_after: 1,
      min_runtime_s: null,
      start_grace_s: null,
      renotify_s: null,
      channels: null,
    });
  });

  test("keeps what was set", () => {
    expect(withDefaults(aliceBackup)).toEqual(aliceBackup);
  });

  test("copies maps and lists, so the caller cannot change the input through the result", () => {
    const spec = withDefaults(aliceBackup);
    spec.labels.extra = "x";
    spec.args.push("--extra");
    expect(aliceBackup.labels.extra).toBeUndefined();
    expect(aliceBackup.args).toHaveLength(3);
  });

  test("refuses a job without a name or schedule", () => {
    expect(invalid(() => withDefaults({ schedule: "@daily" })).field).toBe("name");
    expect(invalid(() => withDefaults({ name: "a" })).field).toBe("schedule");
  });
});

describe("toManifest", () => {
  test("writes the canonical crontopus/v1 manifest, leaving out empty and null fields", () => {
    expect(toManifest(withDefaults({ name: "a", schedule: "@daily" }))).toEqual({
      apiVersion: "crontopus/v1",
      kind: "Job",
      metadata: { name: "a", namespace: "default" },
      spec: { schedule: "@daily", timezone: "UTC", grace: "5m", enabled: true, paused: false },
    });
  });

  test("writes durations compactly and fields in reading order", () => {
    const m = toManifest(aliceBackup);
    expect(Object.keys(m.spec)).toEqual(["schedule", "timezone", "command", "args", "workingDir", "env", "grace", "timeout", "enabled", "paused", "agent", "user", "alerts"]);
    expect(m.spec).toMatchObject({ grace: "15m", timeout: "1h30m", agent: { selector: { role: "db", region: "eu-1" } } });
  });

  const jobs: Record<string, JobSpec> = {
    "every field set": aliceBackup,
    "only defaults": withDefaults({ name: "a", schedule: "@daily" }),
    "ping-only, paused, @every": withDefaults({ name: "heartbeat", schedule: "@every 1h30m", paused: true, enabled: false, grace_s: 1 }),
    "an empty selector": withDefaults({ name: "b", schedule: "*/5 * * * *", agent_selector: {}, timezone: "America/New_York" }),
  };

  test.each(Object.entries(jobs))("round-trips through parseJob: %s", (_, job) => {
    expect(withDefaults(parseJob(toManifest(job)).fields)).toEqual(job);
    expect(parseJob(toManifest(job)).warnings).toEqual([]);
  });

  test("gives every field back when every field is set", () => {
    expect(parseJob(toManifest(aliceBackup)).fields).toEqual(aliceBackup);
  });

  test.each(Object.entries(jobs))("round-trips through YAML and JSON text: %s", (_, job) => {
    const viaYaml = parseJobText(Bun.YAML.stringify(toManifest(job), null, 2), "application/yaml");
    const viaJson = parseJobText(JSON.stringify(toManifest(job)), "application/json");
    expect(withDefaults(parseJob(viaYaml[0]).fields)).toEqual(job);
    expect(withDefaults(parseJob(viaJson[0]).fields)).toEqual(job);
  });
});
