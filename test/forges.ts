// Webhook deliveries as each forge sends them: push payloads (trimmed to the fields around the ref,
// with the repository names a forge would send, which need not match the remote) and the headers,
// signed with a secret. Used by src/gitops/webhook.test.ts and test/gitops-webhook.test.ts.
import { createHmac } from "node:crypto";
import type { Forge } from "../src/gitops/webhook";

export const FORGES = ["github", "gitea", "forgejo", "gitlab"] as const;
const hmac = (body: string, secret: string) => createHmac("sha256", secret).update(body).digest("hex");

export const PUSH: Record<Forge, (ref: string) => object> = {
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
export function headersFor(forge: Forge, event: string, body: string, delivery: string, secret: string): Record<string, string> {
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

export const SIGNATURE_HEADER: Record<Forge, string> = {
  github: "x-hub-signature-256",
  gitea: "x-gitea-signature",
  forgejo: "x-forgejo-signature",
  gitlab: "x-gitlab-token",
};

