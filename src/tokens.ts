// Secrets: random, URL-safe, shown once, stored as SHA-256.
import { createHash, randomBytes } from "node:crypto";

/** `bytes` random bytes as base64url (32 bytes -> 43 characters). */
export function randomSecret(bytes = 32): string {
  // Never with a leading "-": a ping token or key is a command-line argument too
  // (`crontopus ping <token>`), and one in 64 would be read as a flag.
  for (;;) {
    const s = randomBytes(bytes).toString("base64url");
    if (s[0] !== "-") return s;
  }
}

export function newToken(prefix: "ctp_" | "cte_" | "cta_" | "cti_"): string {
  return prefix + randomSecret(32);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function newId(): string {
  return Bun.randomUUIDv7();
}
