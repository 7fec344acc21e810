// The console's small rules without a server: where a login may lead, what a CSRF token matches,
// what a flash cookie may carry.
import { describe, expect, test } from "bun:test";
import { Invalid } from "../errors";
import { csrfMatches, csrfToken } from "./csrf";
import { flashCookie, readFlash } from "./flash";
import { fieldErrors, safeNext } from "./surface";

describe("safeNext", () => {
  test.each([
    ["/jobs/ops/db-backup", "/jobs/ops/db-backup"],
    ["/jobs?status=failed&label=env%3Dprod", "/jobs?status=failed&label=env%3Dprod"],
    ["/", "/"],
    ["", "/"],
    [undefined, "/"],
    [["/jobs"], "/"],
    ["jobs", "/"],
    ["//evil.example/", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example/", "/"],
    ["javascript:alert(1)", "/"],
    ["/jobs\r\nSet-Cookie: x=1", "/"],
    ["/login", "/"],
    ["/login?next=/x", "/"],
    ["/logout", "/"],
    ["/setup?token=x", "/"],
    [`/${"a".repeat(2001)}`, "/"],
  ])("%p leads to %p", (raw, to) => {
    expect(safeNext(raw)).toBe(to);
  });
});

describe("CSRF tokens", () => {
  test("match only the secret they were made from", () => {
    const token = csrfToken("session-a");
    expect(csrfMatches("session-a", token)).toBe(true);
    expect(csrfMatches("session-b", token)).toBe(false);
    expect(csrfMatches(null, token)).toBe(false);
    expect(csrfMatches("session-a", "")).toBe(false);
    expect(csrfMatches("session-a", null)).toBe(false);
    expect(csrfMatches("session-a", token.toLowerCase() === token ? token.toUpperCase() : token.toLowerCase())).toBe(false);
    // The token is not the secret, nor the hash the sessions table keeps of it.
    expect(token).not.toContain("session-a");
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("flash cookies", () => {
  const value = (cookie: string) => cookie.split(";")[0]!.split("=")[1]!;

  test("carry a kind and a line of text, short-lived and out of scripts' reach", () => {
    const cookie = flashCookie({ kind: "ok", text: "Password changed." }, true);
    expect(cookie).toContain("HttpOnly; SameSite=Lax; Secure");
    expect(cookie).toContain("Max-Age=60");
    expect(readFlash(value(cookie))).toEqual({ kind: "ok", text: "Password changed." });
  });

  test("anything else reads as no flash", () => {
    for (const v of [null, "", "%%%", Buffer.from('["evil","x"]').toString("base64url"), Buffer.from('{"kind":"ok"}').toString("base64url"), Buffer.from("[1,2]").toString("base64url")]) {
      expect(readFlash(v)).toBeNull();
    }
  });
});

describe("fieldErrors", () => {
  test("puts a service's field error under its form field, as a sentence", () => {
    expect(fieldErrors(new Invalid("tenant", "must be lowercase"))).toEqual({ tenant: "Must be lowercase." });
    expect(fieldErrors(new Invalid("spec.schedule", "is not a cron expression"), { "spec.schedule": "schedule" })).toEqual({ schedule: "Is not a cron expression." });
    expect(fieldErrors(new Error("boom"))).toBeNull();
  });
});
