import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { verifyWebhook, type Forge } from "./webhook";

const SECRET = "alice-webhook-secret-5f2c";
const hmac = (body: string, secret = SECRET) => createHmac("sha256", secret).update(body).digest("hex");

// Push payloads as each forge sends them (trimmed to the fields around the ref).
const PUSH: Record<Forge, (ref: string) => object> = {
  github: (ref) => ({
    ref,
    before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    after: "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
    repository: { id: 186853002, name: "jobs", full_name: "alice/jobs", default_branch: "main" },
    pusher: { name: "alice", email: "alice@example.com" },
    head_commit: { id: "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", message: "Add backup", author: { name: "Alice" } },
  }),
  gitea: (ref) => ({
    ref,
    before: "28e1879d029cb852e4844d9c718537df08844e03",
    after: "bffeb74224043ba2feb48d137756c8a9331c449a",
    compare_url: "https://gitea.example.com/alice/jobs/compare/28e1879d...bffeb742",
    commits: [{ id: "bffeb74224043ba2feb48d137756c8a9331c449a", message: "Add backup\n" }],
    repository: { id: 140, name: "jobs", full_name: "alice/jobs", default_branch: "main" },
    pusher: { login: "alice" },
  }),
  forgejo: (ref) => ({
    ref,
    before: "0000000000000000000000000000000000000000",
    after: "3f7a9c1e2b4d5f60718293a4b5c6d7e8f9012345",
    total_commits: 1,
    commits: [{ id: "3f7a9c1e2b4d5f60718293a4b5c6d7e8f9012345", message: "Add backup\n" }],
    repository: { id: 7, name: "jobs", full_name: "alice/jobs", default_branch: "main" },
    pusher: { login: "alice" },
  }),
  gitlab: (ref) => ({
    object_kind: "push",
    event_name: "push",
    before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
    after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    ref,
    checkout_sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    user_username: "alice",
    project: { id: 15, name: "jobs", path_with_namespace: "alice/jobs", default_branch: "main" },
    total_commits_count: 1,
  }),
};

/** The headers each forge sends with a delivery, signed with `secret`. */
function headersFor(forge: Forge, event: string, body: string, delivery: string, secret = SECRET): Record<string, string> {
  const common = { "content-type": "application/json" };
  switch (forge) {
    case "github":
      return { ...common, "x-github-event": event, "x-github-delivery": delivery, "x-hub-signature-256": `sha256=${hmac(body, secret)}`, "user-agent": "GitHub-Hookshot/1a2b3c" };
    case "gitea":
      // Gitea also sends GitHub's and Gogs' header names, for tools that only know those.
      return { ...common, "x-gitea-event": event, "x-gitea-delivery": delivery, "x-gitea-signature": hmac(body, secret), "x-github-event": event, "x-github-delivery": delivery, "x-gogs-event": event };
    case "forgejo":
      // Forgejo sends its own headers and Gitea's.
      return { ...common, "x-forgejo-event": event, "x-forgejo-delivery": delivery, "x-forgejo-signature": hmac(body, secret), "x-gitea-event": event, "x-gitea-delivery": delivery, "x-gitea-signature": hmac(body, secret) };
    case "gitlab":
      return { ...common, "x-gitlab-event": event === "push" ? "Push Hook" : event, "x-gitlab-event-uuid": delivery, "x-gitlab-token": secret, "x-gitlab-instance": "https://gitlab.example.com" };
  }
}

const SIGNATURE_HEADER: Record<Forge, string> = {
  github: "x-hub-signature-256",
  gitea: "x-gitea-signature",
  forgejo: "x-forgejo-signature",
  gitlab: "x-gitlab-token",
};

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
