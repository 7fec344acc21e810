import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { createContext } from "../app";
import { loadConfig } from "../config";
import { migrate, openDb } from "../db";
import { createLogger } from "../log";
import { installApi, installCommands, installPs1, installSh, psQuote, shQuote } from "./install";

const temps: string[] = [];
const temp = (prefix = "crontopus-install-") => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** The install routes alone, on a live server whose base URL is baked into the scripts. */
function startInstallServer(downloadDir: string) {
  let app: { handle(req: Request): Promise<Response> } | undefined;
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => app!.handle(req) });
  const base = `http://127.0.0.1:${server.port}`;
  const db = openDb(":memory:");
  migrate(db);
  const config = loadConfig({ CRONTOPUS_DATA_DIR: temp(), CRONTOPUS_BASE_URL: base, CRONTOPUS_DOWNLOAD_DIR: downloadDir });
  app = new Elysia().use(installApi(createContext(db, config, { log: createLogger("silent") })));
  return {
    base,
    async close() {
      await server.stop(true);
      db.close();
    },
  };
}

/** This machine's <os>-<arch>, as install.sh works it out. */
const uname = (flag: string) => Bun.spawnSync(["uname", flag]).stdout.toString().trim();
const OS = uname("-s") === "Darwin" ? "darwin" : "linux";
const ARCH = ["aarch64", "arm64"].includes(uname("-m")) ? "arm64" : "x64";
const PLATFORM = `${OS}-${ARCH}`;

/** Stands in for the agent build: appends its arguments, one [bracketed] word each, to `log`. */
function fakeAgent(path: string, log: string): void {
  writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do printf '[%s]' "$a"; done >> ${shQuote(log)}\necho >> ${shQuote(log)}\n`);
}

const SH = Bun.which("sh")!;

async function sh(command: string, env: Record<string, string> = {}) {
  const proc = Bun.spawn([SH, "-c", command], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe("install.sh, run for real with curl | sh", () => {
  let downloads: string;
  let installDir: string;
  let calls: string;
  let server: ReturnType<typeof startInstallServer>;

  beforeEach(() => {
    downloads = temp();
    installDir = join(temp(), "bin");
    calls = join(temp(), "calls.log");
    server = startInstallServer(downloads);
  });
  afterEach(() => server.close());

  test("alice's one-liner installs the agent binary, enrolls it and installs the service", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_abc --name web1 --label env=prod --label 'team=data ops'`, {
      CRONTOPUS_INSTALL_DIR: installDir,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);

    const bin = join(installDir, "crontopus");
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    expect(readdirSync(installDir)).toEqual(["crontopus"]);
    expect(readFileSync(calls, "utf8")).toBe(
      `[agent][enroll][--server][${server.base}][--token][cte_abc][--name][web1][--label][env=prod][--label][team=data ops]\n` + `[agent][install]\n`,
    );
    expect(r.stdout).toContain(`installed ${bin}`);
  });

  test("the console's command for a token runs it as it is shown: the token reaches agent enroll", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    const { sh: command, ps1 } = installCommands(server.base, "cte_Ab-9_x");
    expect(command).toBe(`curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_Ab-9_x`);
    expect(ps1).toBe(`iex "& { $(irm ${server.base}/install.ps1) } -Token cte_Ab-9_x"`);
    const r = await sh(command, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).toBe(0);
    expect(readFileSync(calls, "utf8")).toBe(`[agent][enroll][--server][${server.base}][--token][cte_Ab-9_x]\n[agent][install]\n`);
  });

  test("--no-service enrolls without installing the service, and --token=… works too", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --token=cte_abc --no-service`, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).toBe(0);
    expect(readFileSync(calls, "utf8")).toBe(`[agent][enroll][--server][${server.base}][--token][cte_abc]\n`);
    expect(r.stdout).toContain("skipped the service (--no-service)");
  });

  test("installing again replaces the binary in place", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    mkdirSync(installDir, { recursive: true });
    writeFileSync(join(installDir, "crontopus"), "old build");
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_abc`, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).toBe(0);
    expect(readFileSync(join(installDir, "crontopus"), "utf8")).toBe(readFileSync(join(downloads, `crontopus-${PLATFORM}`), "utf8"));
    expect(readdirSync(installDir)).toEqual(["crontopus"]);
  });

  test("without a token it stops with a clear message and downloads nothing", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --name web1`, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("crontopus install: missing --token");
    expect(r.stderr).toContain(`usage: curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_...`);
    expect(existsSync(installDir)).toBe(false);
    expect(existsSync(calls)).toBe(false);
  });

  test("when the server has no build for this platform it fails with the server's message and installs nothing", async () => {
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_abc`, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`crontopus install: could not download the agent: ${server.base}/download/${PLATFORM} answered HTTP 404: no agent build for ${PLATFORM}`);
    expect(readdirSync(installDir)).toEqual([]);
    expect(existsSync(calls)).toBe(false);
  });

  test("a download damaged on the way does not match the server's sum: nothing is installed or run", async () => {
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    // Between the host and the server, something changes the binary (a broken proxy, a cut
    // connection that wget does not notice); the sum comes through intact.
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const { origin, pathname: path } = new URL(req.url);
        if (path === "/install.sh") return new Response(installSh(origin));
        const res = await fetch(server.base + path);
        if (path.endsWith(".sha256")) return res;
        return new Response(`${await res.text()}# one line more\n`);
      },
    });
    try {
      const r = await sh(`curl -fsSL http://127.0.0.1:${proxy.port}/install.sh | sh -s -- --token cte_abc`, { CRONTOPUS_INSTALL_DIR: installDir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`crontopus install: the download from http://127.0.0.1:${proxy.port}/download/${PLATFORM} is damaged (SHA-256 `);
      expect(readdirSync(installDir)).toEqual([]);
      expect(existsSync(calls)).toBe(false);
    } finally {
      await proxy.stop(true);
    }
  });

  test("a failed enrollment fails the install and says where the binary is", async () => {
    writeFileSync(join(downloads, `crontopus-${PLATFORM}`), "#!/bin/sh\necho 'error: token already used' >&2\nexit 1\n");
    const r = await sh(`curl -fsSL ${server.base}/install.sh | sh -s -- --token cte_used`, { CRONTOPUS_INSTALL_DIR: installDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("error: token already used");
    expect(r.stderr).toContain(`enrolling failed (see above); the agent is installed at ${join(installDir, "crontopus")}`);
  });

  test("falls back to wget where curl is missing", async () => {
    const wget = Bun.which("wget");
    if (!wget) return;
    fakeAgent(join(downloads, `crontopus-${PLATFORM}`), calls);
    const script = join(temp(), "install.sh");
    writeFileSync(script, await (await fetch(`${server.base}/install.sh`)).text());
    // A PATH with what the script needs, but no curl.
    const path = temp();
    for (const tool of ["uname", "mktemp", "mkdir", "chmod", "mv", "rm", "sed", "wget", "sha256sum"]) symlinkSync(Bun.which(tool)!, join(path, tool));
    const r = await sh(`${SH} ${shQuote(script)} --token cte_abc`, { CRONTOPUS_INSTALL_DIR: installDir, PATH: path });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(calls, "utf8")).toBe(`[agent][enroll][--server][${server.base}][--token][cte_abc]\n[agent][install]\n`);
  });
});

describe("GET /download/:platform", () => {
  let downloads: string;
  let server: ReturnType<typeof startInstallServer>;
  beforeEach(() => {
    downloads = temp();
    server = startInstallServer(downloads);
  });
  afterEach(() => server.close());

  test("streams the build with a download filename", async () => {
    writeFileSync(join(downloads, "crontopus-linux-arm64"), "ELF linux arm64 build");
    const res = await fetch(`${server.base}/download/linux-arm64`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe("attachment; filename=crontopus");
    expect(await res.text()).toBe("ELF linux arm64 build");
  });

  test("<platform>.sha256 answers the build's SHA-256 as sha256sum prints it, and follows a build replaced in place", async () => {
    const build = join(downloads, "crontopus-linux-x64");
    writeFileSync(build, "ELF linux x64 build");
    const sha256sum = () => Bun.spawnSync(["sha256sum", build]).stdout.toString().replace(build, "crontopus-linux-x64");
    const res = await fetch(`${server.base}/download/linux-x64.sha256`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe(sha256sum());
    writeFileSync(build, "ELF linux x64 build, the next version");
    expect(await (await fetch(`${server.base}/download/linux-x64.sha256`)).text()).toBe(sha256sum());
    writeFileSync(join(downloads, "crontopus-windows-arm64.exe"), "MZ");
    expect(await (await fetch(`${server.base}/download/windows-arm64.sha256`)).text()).toMatch(/^[0-9a-f]{64}  crontopus-windows-arm64\.exe\n$/);
  });

  test("the sum of a build that is not there is 404, of a platform it does not know 400", async () => {
    expect((await fetch(`${server.base}/download/darwin-x64.sha256`)).status).toBe(404);
    expect((await fetch(`${server.base}/download/solaris-sparc.sha256`)).status).toBe(400);
  });

  test("serves crontopus-windows-x64.exe as crontopus.exe", async () => {
    writeFileSync(join(downloads, "crontopus-windows-x64.exe"), "MZ windows build");
    const res = await fetch(`${server.base}/download/windows-x64`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe("attachment; filename=crontopus.exe");
    expect(await res.text()).toBe("MZ windows build");
  });

  test("answers 404 naming the platform when the packaging did not provide it", async () => {
    const res = await fetch(`${server.base}/download/darwin-arm64`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toContain("darwin-arm64");
    expect(body.error.message).not.toContain(downloads);
  });

  test("answers 400 for a platform it does not know", async () => {
    const res = await fetch(`${server.base}/download/solaris-sparc`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('unknown platform "solaris-sparc"');
  });

  test("never serves a file outside the download directory", async () => {
    const outside = temp();
    writeFileSync(join(outside, "secret"), "db password");
    writeFileSync(join(downloads, "crontopus-linux-x64"), "build");
    for (const path of [`..%2F${outside.split("/").pop()}%2Fsecret`, "..%2F..%2F..%2Fetc%2Fpasswd", "linux-x64%2F..%2F..%2Fsecret", "linux-x64%00"]) {
      const res = await fetch(`${server.base}/download/${path}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(await res.text()).not.toContain("db password");
    }
  });

  test("a directory with a build's name is not a build", async () => {
    mkdirSync(join(downloads, "crontopus-linux-x64"));
    expect((await fetch(`${server.base}/download/linux-x64`)).status).toBe(404);
  });
});

describe("the scripts as served", () => {
  let server: ReturnType<typeof startInstallServer>;
  beforeEach(() => {
    server = startInstallServer(temp());
  });
  afterEach(() => server.close());

  test("install.sh is a shell script with the server's base URL", async () => {
    const res = await fetch(`${server.base}/install.sh`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/x-shellscript; charset=utf-8");
    const text = await res.text();
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    expect(text).toContain(`SERVER='${server.base}'\n`);
    expect(text).toContain("set -eu\n");
  });

  test("install.ps1 has the parameters, the base URL, both Windows builds and the agent commands", async () => {
    const res = await fetch(`${server.base}/install.ps1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toContain(`$Server = '${server.base}'\n`);
    expect(text).toMatch(/param\(\s*\[string\]\$Token,\s*\[string\]\$Name,\s*\[string\[\]\]\$Label = @\(\),\s*\[switch\]\$NoService\s*\)/);
    expect(text).toContain(`iex "& { $(irm ${server.base}/install.ps1) } -Token cte_...`);
    expect(text).toContain("'windows-x64'");
    expect(text).toContain("'windows-arm64'");
    expect(text).toContain("$url = \"$Server/download/$platform\"");
    expect(text).toContain("Join-Path $env:ProgramFiles 'Crontopus'");
    expect(text).toContain("@('agent', 'enroll', '--server', $Server, '--token', $Token)");
    expect(text).toContain("foreach ($l in $Label) { $enroll += @('--label', $l) }");
    expect(text).toContain("& $exe agent install");
    expect(text).toContain('(Invoke-WebRequest -Uri "$url.sha256" -UseBasicParsing).Content');
    expect(text).toContain("(Get-FileHash -Algorithm SHA256 -Path $tmp).Hash.ToLowerInvariant()");
    // The param block must come first in the script block that iex runs: only comments before it.
    const beforeParam = text.slice(0, text.indexOf("param("));
    expect(beforeParam.split("\n").every((line) => line === "" || line.startsWith("#"))).toBe(true);
  });

  // The openapi plugin leaves out paths with a dot unless told otherwise (exclude.staticFile).
  test("all three routes are in the OpenAPI document under agents", async () => {
    const { openapi } = await import("@elysiajs/openapi");
    const db = openDb(":memory:");
    migrate(db);
    const ctx = createContext(db, loadConfig({ CRONTOPUS_DATA_DIR: temp() }), { log: createLogger("silent") });
    const app = new Elysia().use(openapi({ path: "/docs", specPath: "/openapi.json", exclude: { staticFile: false } })).use(installApi(ctx));
    const spec = (await (await app.handle(new Request("http://localhost/openapi.json"))).json()) as {
      paths: Record<string, { get?: { tags?: string[] } }>;
    };
    expect(spec.paths["/install.sh"]?.get?.tags).toEqual(["agents"]);
    expect(spec.paths["/install.ps1"]?.get?.tags).toEqual(["agents"]);
    expect(spec.paths["/download/{platform}"]?.get?.tags).toEqual(["agents"]);
    db.close();
  });
});

describe("quoting the base URL", () => {
  const nasty = ["http://example.com/it's", "http://example.com/$(touch /tmp/pwned)", "http://example.com/`id`", 'http://x/"a b"\\', "''"];

  test("shQuote gives sh back the exact string", async () => {
    for (const s of nasty) {
      const r = await sh(`printf %s ${shQuote(s)}`);
      expect(r.stdout).toBe(s);
    }
  });

  test("psQuote doubles every kind of single quote PowerShell recognises", () => {
    expect(psQuote("http://example.com/it's")).toBe("'http://example.com/it''s'");
    expect(psQuote("a\u2019b")).toBe("'a\u2019\u2019b'");
    expect(installPs1("http://example.com/it's")).toContain("$Server = 'http://example.com/it''s'\n");
  });

  test("the console's commands quote a base URL the shells would read otherwise", async () => {
    const { sh: command, ps1 } = installCommands("http://example.com/it's/$(id)", "cte_x");
    expect(command).toBe(`curl -fsSL ${shQuote("http://example.com/it's/$(id)/install.sh")} | sh -s -- --token cte_x`);
    expect(ps1).toBe(`iex "& { $(irm 'http://example.com/it''s/$(id)/install.ps1') } -Token cte_x"`);
  });

  test("a base URL with quotes and $(…) stays inert in install.sh", async () => {
    const dir = temp();
    const marker = join(dir, "pwned");
    const script = join(dir, "install.sh");
    writeFileSync(script, installSh(`http://example.com/it's/$(touch ${marker})`));
    const r = await sh(`sh ${shQuote(script)} --help`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`usage: curl -fsSL http://example.com/it's/$(touch ${marker})/install.sh`);
    expect(existsSync(marker)).toBe(false);
  });
});

// shellcheck, where this machine has it.
describe.skipIf(!Bun.which("shellcheck"))("shellcheck", () => {
  test("finds nothing in install.sh", async () => {
    const script = join(temp(), "install.sh");
    writeFileSync(script, installSh("https://crontopus.example.com"));
    chmodSync(script, 0o644);
    const r = await sh(`shellcheck -s sh ${shQuote(script)}`);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
  });
});
