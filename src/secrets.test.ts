// The key file and the sealed values: what GitOps credentials will reuse as channel secrets do.
import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decryptSecret, encryptSecret, isEncrypted, loadSecretKey, openSecretBox, SecretError } from "./secrets";
import { BUN, tempDir } from "../test/helpers";

describe("secrets at rest", () => {
  test("a value sealed with the key opens with it, and never reads as the plaintext", () => {
    const key = loadSecretKey(join(tempDir(), "secret.key"));
    const sealed = encryptSecret(key, "hunter2 ünïcode");
    expect(isEncrypted(sealed)).toBe(true);
    expect(sealed).not.toContain("hunter2");
    expect(encryptSecret(key, "hunter2 ünïcode")).not.toBe(sealed);
    expect(decryptSecret(key, sealed)).toBe("hunter2 ünïcode");
  });

  test("another key or a changed value is an error, not garbage", () => {
    const a = loadSecretKey(join(tempDir(), "a.key"));
    const b = loadSecretKey(join(tempDir(), "b.key"));
    const sealed = encryptSecret(a, "s3cret");
    expect(() => decryptSecret(b, sealed)).toThrow(SecretError);
    const raw = Buffer.from(sealed.slice("enc:v1:".length), "base64");
    raw[20] = raw[20]! ^ 1;
    expect(() => decryptSecret(a, "enc:v1:" + raw.toString("base64"))).toThrow(SecretError);
  });

  test("the key file is created on first use, mode 0600, and read back the same", () => {
    const path = join(tempDir(), "nested", "secret.key");
    const box = openSecretBox(path);
    expect(() => statSync(path)).toThrow();
    const sealed = box.encrypt("x");
    expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
    expect(openSecretBox(path).decrypt(sealed)).toBe("x");
    expect(Buffer.from(readFileSync(path, "utf8").trim(), "base64")).toHaveLength(32);
  });

  test("a file that is not a key is refused with its path", () => {
    const path = join(tempDir(), "secret.key");
    writeFileSync(path, "not a key\n");
    expect(() => loadSecretKey(path)).toThrow(`${path}: not a secret key`);
  });

  test("processes creating the key at once agree on one key", async () => {
    const path = join(tempDir(), "secret.key");
    const script = `import { loadSecretKey } from ${JSON.stringify(join(import.meta.dir, "secrets.ts"))}; console.log(loadSecretKey(process.env.KEY_PATH!).toString("hex"));`;
    const procs = Array.from({ length: 4 }, () => Bun.spawn([BUN, "-e", script], { env: { ...process.env, KEY_PATH: path }, stdout: "pipe", stderr: "inherit" }));
    const keys = await Promise.all(procs.map((p) => new Response(p.stdout).text()));
    expect(new Set(keys.map((k) => k.trim())).size).toBe(1);
    expect(keys[0]!.trim()).toBe(loadSecretKey(path).toString("hex"));
  });
});
