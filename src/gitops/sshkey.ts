// SSH keys for GitOps remotes, pure: a deploy key made on the server (ed25519 by node:crypto,
// written in the OpenSSH formats ssh reads, because ssh-keygen need not be installed where the
// server runs), the public key of a private key given in a PUT, and known_hosts text checked
// line by line. The formats are those of OpenSSH's PROTOCOL.key and sshd(8) AUTHORIZED_KEYS.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";

export interface DeployKey {
  /** "-----BEGIN OPENSSH PRIVATE KEY-----…": what ssh -i reads. */
  privateKey: string;
  /** One line, "ssh-ed25519 AAAA… comment": what a forge's deploy-key form takes. */
  publicKey: string;
}

/** An SSH wire string: uint32 length, then the bytes. */
function sshString(b: Uint8Array | string): Buffer {
  const bytes = typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function ed25519PublicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
}

/** The openssh-key-v1 file of an unencrypted ed25519 key (seed and public key, 32 bytes each). */
function openSshEd25519(seed: Buffer, pub: Buffer, comment: string): string {
  const blob = ed25519PublicBlob(pub);
  // The private section: a random check word twice (equal when a passphrase is right; there is
  // none here), the key (seed then public key, as OpenSSH keeps it), the comment, padding 1 2 3 …
  // to the cipher block size (8 for "none").
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshString("none"), sshString("none"), sshString(""), count, sshString(blob), sshString(secret)]);
  return ["-----BEGIN OPENSSH PRIVATE KEY-----", ...body.toString("base64").match(/.{1,70}/g)!, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
}

function ed25519Parts(key: KeyObject): { seed: Buffer; pub: Buffer } {
  const jwk = key.export({ format: "jwk" });
  return { seed: Buffer.from(jwk.d!, "base64url"), pub: Buffer.from(jwk.x!, "base64url") };
}

/** Makes an ed25519 key pair; `comment` ends the public key's line (and is kept in the private key). */
export function makeDeployKey(comment: string): DeployKey {
  const { seed, pub } = ed25519Parts(generateKeyPairSync("ed25519").privateKey);
  return { privateKey: openSshEd25519(seed, pub, comment), publicKey: `ssh-ed25519 ${ed25519PublicBlob(pub).toString("base64")} ${comment}` };
}

const OPENSSH_RE = /^-----BEGIN OPENSSH PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END OPENSSH PRIVATE KEY-----\s*$/;

/** Reads the strings of an openssh-key-v1 body up to the first public key blob; null when it is not one. */
function openSshHeader(body: Buffer): { cipher: string; blob: Buffer } | null {
  const magic = "openssh-key-v1\0";
  if (body.subarray(0, magic.length).toString("latin1") !== magic) return null;
  let at = magic.length;
  const next = (): Buffer | null => {
    if (at + 4 > body.length) return null;
    const len = body.readUInt32BE(at);
    if (at + 4 + len > body.length) return null;
    const out = body.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return out;
  };
  const cipher = next();
  if (!cipher || !next() || !next() || at + 4 > body.length) return null;
  at += 4; // number of keys
  const blob = next();
  return blob ? { cipher: cipher.toString("latin1"), blob } : null;
}

export interface GivenKey {
  /** The key as ssh is given it: an ed25519 key in PEM form (which OpenSSH 9 does not read) rewritten in OpenSSH form. */
  privateKey: string;
  /** Its OpenSSH public key line ("type base64"), or null when it cannot be worked out here. */
  publicKey: string | null;
  encrypted: boolean;
}

/**
 * A private key given in a PUT, read: its public key (from an OpenSSH key's header, or through
 * node:crypto for a PEM ed25519 key) and whether a passphrase protects it (ssh runs in batch
 * mode: nobody could type it). Null when it is not a private key.
 */
export function readPrivateKey(text: string): GivenKey | null {
  const t = text.trim();
  const m = OPENSSH_RE.exec(t);
  if (m) {
    const header = openSshHeader(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
    if (!header || header.blob.length < 4) return null;
    const type = header.blob.subarray(4, 4 + header.blob.readUInt32BE(0)).toString("latin1");
    return { privateKey: `${t}\n`, publicKey: `${type} ${header.blob.toString("base64")}`, encrypted: header.cipher !== "none" };
  }
  if (!/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t)) return null;
  if (/ENCRYPTED/.test(t.split("\n", 3).join("\n"))) return { privateKey: `${t}\n`, publicKey: null, encrypted: true };
  try {
    const key = createPrivateKey(t);
    if (key.asymmetricKeyType !== "ed25519") return { privateKey: `${t}\n`, publicKey: null, encrypted: false };
    const { seed, pub } = ed25519Parts(key);
    return { privateKey: openSshEd25519(seed, pub, ""), publicKey: `ssh-ed25519 ${ed25519PublicBlob(pub).toString("base64")}`, encrypted: false };
  } catch {
    return null;
  }
}

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)$/;

/**
 * The number (1-based) of the first line of known_hosts text that is neither a comment, blank,
 * nor `[@marker] hosts key-type base64-key [comment]`; 0 when every line is.
 */
export function badKnownHostsLine(text: string): number {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(/\s+/);
    const [, type, key] = f[0] === "@cert-authority" || f[0] === "@revoked" ? f.slice(1) : f;
    if (!type || !KEY_TYPES.test(type) || !key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) return i + 1;
  }
  return 0;
}

/** The known_hosts lines proper of a text: no comments, no blank lines. */
export function knownHostsEntries(text: string | null): string[] {
  return (text ?? "").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

/**
 * The host, port and known_hosts name of an ssh remote (`ssh://user@host:port/path` or
 * `user@host:path`): the name is `host`, or `[host]:port` off port 22, as ssh-keyscan writes it.
 */
export function sshTarget(url: string): { host: string; port: string | null; name: string } {
  let host: string;
  let port: string | null = null;
  if (url.startsWith("ssh://")) {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, "");
    port = u.port || null;
  } else {
    const m = /^(?:[^@]+@)?(\[[^\]]+\]|[^:]+):/.exec(url);
    if (!m) throw new Error(`not an ssh remote: ${url}`);
    host = m[1]!.replace(/^\[|\]$/g, "");
  }
  return { host, port, name: port && port !== "22" ? `[${host}]:${port}` : host };
}

/** How known_hosts that the first fetch pinned begin (the settings' `ssh_known_hosts` shows it). */
export const PINNED_MARK = "# pinned on first use by Crontopus";

/** The settings' known_hosts text for host keys that a first fetch accepted at `at` (ISO time). */
export function pinnedKnownHosts(entries: string[], at: string): string {
  return `${PINNED_MARK} at ${at}\n${entries.join("\n")}\n`;
}

export function isPinned(knownHosts: string | null): boolean {
  return !!knownHosts && knownHosts.startsWith(PINNED_MARK);
}

/** The SHA256 fingerprint of a key in an OpenSSH public key or known_hosts line, as ssh-keygen -l and the forges print it. */
export function keyFingerprint(line: string): string | null {
  const f = line.trim().split(/\s+/);
  const key = f.find((x, i) => i > 0 && KEY_TYPES.test(f[i - 1]!) && /^[A-Za-z0-9+/]+={0,2}$/.test(x));
  if (!key) return null;
  return `SHA256:${createHash("sha256").update(Buffer.from(key, "base64")).digest("base64").replace(/=+$/, "")}`;
}
