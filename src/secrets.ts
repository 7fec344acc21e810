// Secrets at rest: values the server must send on later (channel secrets today, Git credentials
// later) are stored encrypted with AES-256-GCM under a key that lives in a file of its own, not
// in the database, so a copy of the database alone (a backup, a stolen file) reveals none of them.
// The key file is created on first use, mode 0600; losing it loses the stored secrets.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const PREFIX = "enc:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretError extends Error {}

/** Encrypts and decrypts with one key; the key file is read (or created) on first use. */
export interface SecretBox {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

/** Whether a stored value is one encryptSecret() wrote. */
export function isEncrypted(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** `enc:v1:<base64 of iv | ciphertext | tag>`: AES-256-GCM with a fresh 96-bit IV. */
export function encryptSecret(key: Uint8Array, plain: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64");
}

/** The plaintext of an encryptSecret() value; throws SecretError for another key or a changed value. */
export function decryptSecret(key: Uint8Array, sealed: string): string {
  if (!isEncrypted(sealed)) throw new SecretError("not an encrypted value");
  const raw = Buffer.from(sealed.slice(PREFIX.length), "base64");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretError("encrypted value is truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretError("cannot decrypt a stored secret: the key file is not the one it was encrypted with");
  }
}

/**
 * The key in `path` (base64 of 32 bytes), created with mode 0600 if there is none. Two processes
 * starting at once agree on one key: the new file is written aside and linked into place, and
 * whoever links second reads the winner's.
 */
export function loadSecretKey(path: string): Buffer {
  try {
    return parseKey(path, readFileSync(path, "utf8"));
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, randomBytes(KEY_BYTES).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  return parseKey(path, readFileSync(path, "utf8"));
}

function parseKey(path: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== KEY_BYTES) throw new SecretError(`${path}: not a secret key (expected ${KEY_BYTES} bytes in base64)`);
  return key;
}

/** A SecretBox over the key file at `path`, which is read or created only when first needed. */
export function openSecretBox(path: string): SecretBox {
  let key: Buffer | null = null;
  const get = () => (key ??= loadSecretKey(path));
  return {
    encrypt: (plain) => encryptSecret(get(), plain),
    decrypt: (sealed) => decryptSecret(get(), sealed),
  };
}
