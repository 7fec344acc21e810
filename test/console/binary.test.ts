// The single binary serves the console: built as `bun run build` builds it (for this machine),
// started in an empty folder far from the sources, it prints its setup link and answers the
// login page and every asset with the committed bytes (they are embedded, not read from public/).
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUILT_ASSETS } from "../../public/build/manifest";
import { committedAssets } from "../../scripts/build-assets";
import { compileArgs } from "../../scripts/build";
import { BUN, freePort, ROOT, tempDir } from "../helpers";

const dir = tempDir("crontopus-binary-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a compiled binary serves the console and its assets from the files embedded in it", async () => {
  const binary = join(dir, "crontopus");
  const build = Bun.spawnSync([BUN, ...compileArgs(binary, "test")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);
  const version = Bun.spawnSync([binary, "version"], { cwd: tempDir("crontopus-binary-cwd-"), stdout: "pipe" });
  expect(version.stdout.toString()).toMatch(/^crontopus \d+\.\d+\.\d+ \(commit test, bun /);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const work = tempDir("crontopus-binary-cwd-");
  const proc = Bun.spawn([binary, "serve"], {
    cwd: work,
    env: { PATH: process.env.PATH ?? "", HOME: work, CRONTOPUS_DATA_DIR: join(work, "data"), CRONTOPUS_PORT: String(port), CRONTOPUS_HOST: "127.0.0.1", CRONTOPUS_BASE_URL: base, CRONTOPUS_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("/setup?token=")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve ended: ${out}${await new Response(proc.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const link = /(http:\/\/\S+\/setup\?token=\S+)/.exec(out)![1]!;
    expect((await fetch(link)).status).toBe(200);
    const login = await fetch(`${base}/login`);
    expect(login.status).toBe(200);
    const html = await login.text();
    const committed = committedAssets();
    for (const asset of Object.values(BUILT_ASSETS)) {
      expect(html).toContain(`/assets/${asset.file}`);
      const r = await fetch(`${base}/assets/${asset.file}`, { headers: { "accept-encoding": "identity" } });
      expect(`${asset.file} ${r.status}`).toBe(`${asset.file} 200`);
      expect(Buffer.compare(Buffer.from(await r.arrayBuffer()), Buffer.from(committed.get(asset.file)!))).toBe(0);
    }
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    // The checkpoint worker's module is in the binary too (the server falls back and says so otherwise).
    expect(await new Response(proc.stderr).text()).not.toContain("checkpoint worker unavailable");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(work, { recursive: true, force: true });
  }
});
