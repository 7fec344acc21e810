import { describe, expect, test } from "bun:test";
import { createLogger, redact } from "./log";
import { ConfigError, loadConfig } from "./config";

function capture(format: "json" | "text", level: "debug" | "info" | "warn" = "debug") {
  const lines: string[] = [];
  return { log: createLogger(level, (l) => lines.push(l), format), lines };
}

describe("log lines", () => {
  test("JSON: one object per line with time, level, message and fields", () => {
    const { log, lines } = capture("json");
    log.info("listening", { url: "http://0.0.0.0:8080", port: 8080 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "listening", url: "http://0.0.0.0:8080", port: 8080 });
    expect(JSON.parse(lines[0]!).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("text: time, level and message, then key=value, quoting only what needs it", () => {
    const { log, lines } = capture("text");
    log.warn("request", { method: "GET", route: "/api/v1/jobs/:namespace/:name", status: 503, ms: 1.5, tenant: undefined, reason: "the disk is full", none: null });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  request method=GET route=\/api\/v1\/jobs\/:namespace\/:name status=503 ms=1\.5 reason="the disk is full" none=-$/,
    );
  });

  test("text: a stack trace and nested values stay on one line", () => {
    const { log, lines } = capture("text");
    const e = new Error("boom");
    log.error("unhandled error", { error: e.stack, applied: ["0009_a", "0010_b"], statuses: { 200: 3 } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(lines[0]).toContain('error="Error: boom\\n    at ');
    expect(lines[0]).toContain('applied=["0009_a","0010_b"]');
    expect(lines[0]).toContain('statuses={"200":3}');
  });

  test("below the level nothing is written", () => {
    const { log, lines } = capture("json", "warn");
    log.info("quiet");
    log.debug("quieter");
    log.warn("loud");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["loud"]);
  });

  test("tokens and URL passwords are masked whatever a caller passes", () => {
    const api = "ctp_" + "a".repeat(43);
    const agent = "cta_" + "B-_9".repeat(10);
    for (const format of ["json", "text"] as const) {
      const { log, lines } = capture(format);
      log.error("send failed", { error: `refused ${api} and ${agent}`, url: "smtp://alerts:hunter2-pass@mail.example.com:587" });
      expect(lines[0]).not.toContain(api);
      expect(lines[0]).not.toContain(agent);
      expect(lines[0]).not.toContain("hunter2-pass");
      expect(lines[0]).toContain("ctp_[redacted]");
      expect(lines[0]).toContain("smtp://alerts:[redacted]@mail.example.com");
    }
    // A token's short public prefix, as lists show it, is no secret.
    expect(redact("prefix cte_bqID")).toBe("prefix cte_bqID");
  });
});

describe("CRONTOPUS_LOG_FORMAT", () => {
  test("json, text or auto (the default)", () => {
    expect(loadConfig({}).logFormat).toBe("auto");
    expect(loadConfig({ CRONTOPUS_LOG_FORMAT: "TEXT" }).logFormat).toBe("text");
    expect(loadConfig({ CRONTOPUS_LOG_FORMAT: "json" }).logFormat).toBe("json");
    expect(() => loadConfig({ CRONTOPUS_LOG_FORMAT: "xml" })).toThrow(ConfigError);
    expect(() => loadConfig({ CRONTOPUS_LOG_FORMAT: "xml" })).toThrow(/CRONTOPUS_LOG_FORMAT: expected one of json, text, auto/);
  });
});
