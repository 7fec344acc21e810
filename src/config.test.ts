import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeConfig, loadConfig } from "./config";
import { tempDir } from "../test/helpers";

describe("configuration", () => {
  test("defaults: port 8080 on 0.0.0.0, ./data, base URL from the port", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe("0.0.0.0");
    expect(c.dbPath).toEndWith("/data/crontopus.db");
    expect(c.baseUrl).toBe("http://localhost:8080");
    expect(c.logLevel).toBe("info");
  });

  test("flags override the environment", () => {
    const c = loadConfig({ CRONTOPUS_PORT: "9000", CRONTOPUS_HOST: "127.0.0.1" }, { port: "9100" });
    expect(c.port).toBe(9100);
    expect(c.host).toBe("127.0.0.1");
    expect(c.baseUrl).toBe("http://localhost:9100");
  });

  test.each([
    [{ CRONTOPUS_PORT: "eighty" }, /CRONTOPUS_PORT/],
    [{ CRONTOPUS_PORT: "70000" }, /CRONTOPUS_PORT/],
    [{ CRONTOPUS_BASE_URL: "ftp://x" }, /CRONTOPUS_BASE_URL/],
    [{ CRONTOPUS_LOG_LEVEL: "loud" }, /CRONTOPUS_LOG_LEVEL/],
    [{ CRONTOPUS_PING_BODY_LIMIT: "lots" }, /CRONTOPUS_PING_BODY_LIMIT/],
  ])("rejects %p with a message naming the variable", (env, re) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(re);
  });

  test("secrets may come from a _FILE and are masked when described", () => {
    const f = join(tempDir(), "token");
    writeFileSync(f, "s3cret\n");
    const c = loadConfig({ CRONTOPUS_METRICS_TOKEN_FILE: f });
    expect(c.metricsToken).toBe("s3cret");
    expect(JSON.stringify(describeConfig(c))).not.toContain("s3cret");
  });

  test("a trailing slash on the base URL is dropped", () => {
    expect(loadConfig({ CRONTOPUS_BASE_URL: "https://cron.example.com/" }).baseUrl).toBe("https://cron.example.com");
  });
});
