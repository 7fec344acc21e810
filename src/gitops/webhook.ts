// Push webhooks from the forges: which forge sent it, whether it carries the tenant's secret, which
// event and delivery it is, and which branch it pushed. Pure: headers and the raw body in, a verdict out.
// What is done with a verdict (and the deliveries seen before) is src/gitops/deliveries.ts.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export type Forge = "github" | "gitea" | "forgejo" | "gitlab";
export type WebhookEvent = "push" | "ping" | "other";

export type WebhookVerdict =
  | { ok: true; forge: Forge; event: WebhookEvent; delivery: string | null; branch?: string }
  | { ok: false; status: 401; reason: string };

type HeaderInput = Headers | Record<string, string | string[] | undefined>;

function toHeaders(input: HeaderInput): Headers {
  if (input instanceof Headers) return input;
  const h = new Headers();
  for (const [k, v] of Object.entries(input)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
  return h;
}

// Forgejo also sends the X-Gitea-* headers and Gitea also sends X-GitHub-Event, so the most specific
// event header decides the forge: Forgejo, then Gitea, then GitLab, then GitHub.
function detectForge(h: Headers): Forge | null {
  if (h.has("x-forgejo-event")) return "forgejo";
  if (h.has("x-gitea-event")) return "gitea";
  if (h.has("x-gitlab-event")) return "gitlab";
  if (h.has("x-github-event")) return "github";
  return null;
}

const EVENT_HEADER: Record<Forge, string> = {
  github: "x-github-event",
  gitea: "x-gitea-event",
  forgejo: "x-forgejo-event",
  gitlab: "x-gitlab-event",
};
const DELIVERY_HEADER: Record<Forge, string> = {
  github: "x-github-delivery",
  gitea: "x-gitea-delivery",
  forgejo: "x-forgejo-delivery",
  gitlab: "x-gitlab-event-uuid",
};

// Both sides are hashed first so that timingSafeEqual always compares equal lengths: neither the
// content nor the length of the expected value leaks through the time a comparison takes.
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function hmacHex(secret: string, body: Uint8Array | string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** The signature a forge sends, or null when it is absent; GitHub's carries a `sha256=` prefix. */
function givenSignature(forge: Forge, h: Headers): string | null {
  if (forge === "github") {
    const v = h.get("x-hub-signature-256");
    if (v === null) return null;
    return v.startsWith("sha256=") ? v.slice("sha256=".length).toLowerCase() : "";
  }
  if (forge === "gitlab") return h.get("x-gitlab-token");
  const v = h.get(forge === "forgejo" ? "x-forgejo-signature" : "x-gitea-signature");
  return v === null ? null : v.toLowerCase();
}

function normalizeEvent(forge: Forge, raw: string): WebhookEvent {
  const name = raw.trim().toLowerCase();
  if (forge === "gitlab") return name === "push hook" ? "push" : "other";
  if (name === "push") return "push";
  if (name === "ping") return "ping";
  return "other";
}

// Every forge's push payload names the ref the same way: "ref": "refs/heads/<branch>" (a tag push
// has refs/tags/… and so no branch).
function pushedBranch(rawBody: Uint8Array | string): string | undefined {
  try {
    const text = typeof rawBody === "string" ? rawBody : new TextDecoder().decode(rawBody);
    const ref = (JSON.parse(text) as { ref?: unknown }).ref;
    if (typeof ref === "string" && ref.startsWith("refs/heads/")) return ref.slice("refs/heads/".length);
  } catch {
    // A body that is not JSON names no branch; the caller decides what a push without one means.
  }
  return undefined;
}

/** Verifies a forge's webhook against the tenant's secret, before anything in the body is trusted. */
export function verifyWebhook(headers: HeaderInput, rawBody: Uint8Array | string, secret: string): WebhookVerdict {
  const h = toHeaders(headers);
  const forge = detectForge(h);
  if (forge === null) return { ok: false, status: 401, reason: "not a webhook from GitHub, Gitea, Forgejo or GitLab (no event header)" };
  // An empty secret would let anyone sign: refuse rather than compare.
  if (secret === "") return { ok: false, status: 401, reason: "no webhook secret is set" };
  const given = givenSignature(forge, h);
  if (given === null) return { ok: false, status: 401, reason: `missing ${forge === "gitlab" ? "X-Gitlab-Token" : "signature"} header` };
  const expected = forge === "gitlab" ? secret : hmacHex(secret, rawBody);
  if (!sameSecret(given, expected)) return { ok: false, status: 401, reason: forge === "gitlab" ? "wrong X-Gitlab-Token" : "bad signature" };
  const event = normalizeEvent(forge, h.get(EVENT_HEADER[forge]) ?? "");
  const delivery = h.get(DELIVERY_HEADER[forge]) || null;
  if (event !== "push") return { ok: true, forge, event, delivery };
  return { ok: true, forge, event, delivery, branch: pushedBranch(rawBody) };
}
