// Secrets: random, URL-safe, shown once, stored as SHA-256.
import { createHash, randomBytes } from "node:crypto";

/** `bytes` random bytes as base64url (32 bytes -> 43 characters). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function newToken(prefix: "ctp_" | "cte_" | "cta_"): string {
  return prefix + randomSecret(32);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function newId(): string {
  return Bun.randomUUIDv7();
}
