// The key formats, checked against OpenSSH's own reader (ssh-keygen -y), and known_hosts text.
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers";
import { badKnownHostsLine, isPinned, keyFingerprint, knownHostsEntries, makeDeployKey, pinnedKnownHosts, readPrivateKey, sshTarget } from "./sshkey";

/** What OpenSSH makes of a private key file: the public key line ssh-keygen -y derives from it, or its error. */
function sshKeygenPublic(privateKey: string): { ok: boolean; out: string } {
  const file = join(tempDir(), "key");
  writeFileSync(file, privateKey, { mode: 0o600 });
  const p = Bun.spawnSync(["ssh-keygen", "-y", "-f", file], { stdout: "pipe", stderr: "pipe" });
  return { ok: p.exitCode === 0, out: (p.exitCode === 0 ? p.stdout : p.stderr).toString().trim() };
}

describe("makeDeployKey", () => {
  test("writes an OpenSSH private key that ssh-keygen reads, whose public key is the line answered, comment included", () => {
    const key = makeDeployKey("crontopus@acme");
    expect(key.privateKey).toStartWith("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    expect(key.privateKey).toEndWith("-----END OPENSSH PRIVATE KEY-----\n");
    expect(key.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} crontopus@acme$/);
    expect(key.publicKey).not.toContain("\n");
    expect(sshKeygenPublic(key.privateKey)).toEqual({ ok: true, out: key.publicKey });
  });

  test("every call makes another key", () => {
    const keys = new Set(Array.from({ length: 20 }, () => makeDeployKey("c").publicKey));
    expect(keys.size).toBe(20);
  });
});

describe("readPrivateKey", () => {
  test("reads the public key and the absence of a passphrase from an OpenSSH key", () => {
    const key = makeDeployKey("x");
    expect(readPrivateKey(key.privateKey)).toEqual({ privateKey: key.privateKey, publicKey: key.publicKey.replace(/ x$/, ""), encrypted: false });
  });

  test("tells an OpenSSH key protected by a passphrase (ssh-keygen's own)", () => {
    const file = join(tempDir(), "id");
    expect(Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-C", "bob", "-f", file]).exitCode).toBe(0);
    const facts = readPrivateKey(readFileSync(file, "utf8"))!;
    expect(facts.encrypted).toBe(true);
    expect(facts.publicKey).toBe(readFileSync(`${file}.pub`, "utf8").trim().replace(/ bob$/, ""));
  });

  test("rewrites a PEM (PKCS #8) ed25519 key, which OpenSSH 9 cannot read, in OpenSSH form with the same public key", () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(sshKeygenPublic(pem).ok).toBe(false);
    const facts = readPrivateKey(pem)!;
    expect(facts.privateKey).toStartWith("-----BEGIN OPENSSH PRIVATE KEY-----");
    expect(sshKeygenPublic(facts.privateKey)).toEqual({ ok: true, out: facts.publicKey! });
  });

  test("keeps an RSA PEM key as given (ssh reads it), and refuses what is no private key", () => {
    const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs1" }).toString();
    expect(readPrivateKey(pem)).toEqual({ privateKey: pem.trim() + "\n", publicKey: null, encrypted: false });
    expect(readPrivateKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEqK a public key")).toBeNull();
    expect(readPrivateKey("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----")).toBeNull();
    expect(readPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).toBeNull();
  });
});

describe("known hosts", () => {
  const line = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

  test("accepts ssh-keyscan's lines, comments, markers and hashed names; names the first bad line", () => {
    expect(badKnownHostsLine(`# github\n${line}\n\n[git.example.com]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNh\n|1|abc=|def= ssh-rsa AAAAB3Nza\n@cert-authority *.example.com ssh-ed25519 AAAAC3Nza\n`)).toBe(0);
    expect(badKnownHostsLine(`${line}\ngithub.com\n`)).toBe(2);
    expect(badKnownHostsLine("github.com not-a-type AAAA")).toBe(1);
    expect(badKnownHostsLine("github.com ssh-ed25519 AAAA$$")).toBe(1);
    expect(knownHostsEntries(`# x\n\n ${line} \n`)).toEqual([line]);
    expect(knownHostsEntries(null)).toEqual([]);
  });

  test("the known_hosts name of an ssh remote is the host, or [host]:port off port 22", () => {
    expect(sshTarget("git@github.com:acme/jobs.git")).toEqual({ host: "github.com", port: null, name: "github.com" });
    expect(sshTarget("ssh://git@git.example.com:2222/acme/jobs.git")).toEqual({ host: "git.example.com", port: "2222", name: "[git.example.com]:2222" });
    expect(sshTarget("ssh://git@git.example.com:22/x.git").name).toBe("git.example.com");
    expect(sshTarget("ssh://git@[2001:db8::1]:2222/x.git").name).toBe("[2001:db8::1]:2222");
  });

  test("fingerprints are ssh-keygen's", () => {
    const key = makeDeployKey("crontopus@acme");
    const file = join(tempDir(), "key.pub");
    writeFileSync(file, `${key.publicKey}\n`);
    const printed = Bun.spawnSync(["ssh-keygen", "-l", "-f", file]).stdout.toString().split(" ")[1];
    expect(keyFingerprint(key.publicKey)).toBe(printed);
    expect(keyFingerprint(`[git.example.com]:2222 ${key.publicKey}`)).toBe(printed);
    expect(keyFingerprint("# a comment")).toBeNull();
  });

  test("host keys pinned on first use say so in their first line", () => {
    const text = pinnedKnownHosts([line], "2026-12-01T10:00:00.000Z");
    expect(text).toBe(`# pinned on first use by Crontopus at 2026-12-01T10:00:00.000Z\n${line}\n`);
    expect(isPinned(text)).toBe(true);
    expect(isPinned(`${line}\n`)).toBe(false);
    expect(isPinned(null)).toBe(false);
    expect(badKnownHostsLine(text)).toBe(0);
  });
});
