import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { verifyWebhook } from "./webhook";
import { headersFor as signed, PUSH, SIGNATURE_HEADER } from "../../test/forges";

const SECRET = "alice-webhook-secret-5f2c";
const hmac = (body: string, secret = SECRET) => createHmac("sha256", secret).update(body).digest("hex");
const headersFor = (forge: Parameters<typeof signed>[0], event: string, body: string, delivery: string, secret = SECRET) => signed(forge, event, body, delivery, secret);

for (const forge of ["github", "gitea", "forgejo", "gitlab"] as const) {
  describe(`${forge} webhooks`, () => {
    const body = JSON.stringify(PUSH[forge]("refs/heads/main"));
    const delivery = `${forge}-delivery-72d3162e`;

    test("a push signed with the secret is accepted, with the forge, the delivery id and the branch", () => {
      expect(verifyWebhook(headersFor(forge, "push", body, delivery), body, SECRET)).toEqual({ ok: true, forge, event: "push", delivery, branch: "main" });
    });

    test("the raw body may come as bytes", () => {
      expect(verifyWebhook(new Headers(headersFor(forge, "push", body, delivery)), new TextEncoder().encode(body), SECRET)).toMatchObject({ ok: true, branch: "main" });
    });

    test("a push signed with another secret is refused with 401", () => {
      expect(verifyWebhook(headersFor(forge, "push", body, delivery, "mallory-guess"), body, SECRET)).toMatchObject({ ok: false, status: 401 });
    });

    test("a push without its signature header is refused with 401, saying it is missing", () => {
      const headers = headersFor(forge, "push", body, delivery);
      delete headers[SIGNATURE_HEADER[forge]];
      // Forgejo's copy of Gitea's header does not count as its own.
      const verdict = verifyWebhook(headers, body, SECRET);
      expect(verdict).toMatchObject({ ok: false, status: 401 });
      expect(verdict.ok === false && verdict.reason).toMatch(/missing/);
    });

    test("a body changed by one byte after signing is refused with 401", () => {
      const headers = headersFor(forge, "push", body, delivery);
      const changed = body.replace("refs/heads/main", "refs/heads/maim");
      expect(changed.length).toBe(body.length);
      if (forge === "gitlab") {
        // GitLab signs nothing: its token proves the sender, not the body, so a changed body still passes.
        expect(verifyWebhook(headers, changed, SECRET)).toMatchObject({ ok: true, branch: "maim" });
      } else {
        expect(verifyWebhook(headers, changed, SECRET)).toMatchObject({ ok: false, status: 401, reason: "bad signature" });
      }
    });

    test("a push to another branch is accepted and names that branch, so the caller can ignore it", () => {
      const other = JSON.stringify(PUSH[forge]("refs/heads/feature/new-report"));
      expect(verifyWebhook(headersFor(forge, "push", other, delivery), other, SECRET)).toMatchObject({ ok: true, event: "push", branch: "feature/new-report" });
    });

    test("a tag push names no branch", () => {
      const tag = JSON.stringify(PUSH[forge]("refs/tags/v1.2.0"));
      const verdict = verifyWebhook(headersFor(forge, "push", tag, delivery), tag, SECRET);
      expect(verdict).toMatchObject({ ok: true, event: "push" });
      expect(verdict.ok && verdict.branch).toBeUndefined();
    });

    test("a repeated delivery carries the same id, so the receiver can tell (src/gitops/deliveries.ts)", () => {
      const first = verifyWebhook(headersFor(forge, "push", body, delivery), body, SECRET);
      const again = verifyWebhook(headersFor(forge, "push", body, delivery), body, SECRET);
      expect(first).toMatchObject({ ok: true, delivery });
      expect(again).toEqual(first);
    });
  });
}

describe("events other than push", () => {
  test("GitHub's ping (sent when the hook is created) is accepted as a ping, signed like a push", () => {
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 30, hook: { type: "Repository", events: ["push"] } });
    expect(verifyWebhook(headersFor("github", "ping", body, "d1"), body, SECRET)).toEqual({ ok: true, forge: "github", event: "ping", delivery: "d1" });
    expect(verifyWebhook(headersFor("github", "ping", body, "d1", "wrong"), body, SECRET)).toMatchObject({ ok: false, status: 401 });
  });

  test("other events verify as 'other' and carry no branch", () => {
    const body = JSON.stringify({ action: "opened", number: 2, ref: "refs/heads/main" });
    expect(verifyWebhook(headersFor("gitea", "pull_request", body, "d2"), body, SECRET)).toEqual({ ok: true, forge: "gitea", event: "other", delivery: "d2" });
    expect(verifyWebhook(headersFor("gitlab", "Merge Request Hook", body, "d3"), body, SECRET)).toEqual({ ok: true, forge: "gitlab", event: "other", delivery: "d3" });
  });
});

describe("requests that are no forge's webhook", () => {
  const body = JSON.stringify(PUSH.github("refs/heads/main"));

  test("a request with no forge's event header is refused with 401", () => {
    expect(verifyWebhook({ "content-type": "application/json", "x-hub-signature-256": `sha256=${hmac(body)}` }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
  });

  test("with no secret set nothing verifies, not even an HMAC keyed with the empty string", () => {
    expect(verifyWebhook(headersFor("github", "push", body, "d4", ""), body, "")).toMatchObject({ ok: false, status: 401 });
    expect(verifyWebhook(headersFor("gitlab", "push", body, "d5", ""), body, "")).toMatchObject({ ok: false, status: 401 });
  });

  test("GitHub's signature without its sha256= prefix, or the old SHA-1 header alone, is refused", () => {
    const headers = headersFor("github", "push", body, "d6");
    expect(verifyWebhook({ ...headers, "x-hub-signature-256": hmac(body) }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
    const { "x-hub-signature-256": _, ...sha1Only } = headers;
    expect(verifyWebhook({ ...sha1Only, "x-hub-signature": `sha1=${createHmac("sha1", SECRET).update(body).digest("hex")}` }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
  });

  test("a signature of another length is refused, not thrown on", () => {
    const headers = headersFor("gitea", "push", body, "d7");
    expect(verifyWebhook({ ...headers, "x-gitea-signature": "abc" }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
  });
});
