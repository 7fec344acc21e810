// The console's assets: the committed build is what its sources give, and the server hands each
// file out under its fingerprinted name, compressed when asked, to be cached for a year.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { buildAssets, committedAssets, staleness } from "../scripts/build-assets";
import { BUILT_ASSETS } from "../public/build/manifest";
import { assetUrl, pickEncoding } from "../src/assets";
import { startTestServer, type TestServer } from "./helpers";

test("public/build/ is what public/ builds to (run `bun run build:assets` after changing public/)", async () => {
  expect(staleness(await buildAssets(), committedAssets())).toEqual([]);
});

test("the built files fetch nothing from another host", () => {
  for (const [name, bytes] of committedAssets()) {
    const text = new TextDecoder().decode(bytes);
    // XML namespaces (http://www.w3.org/...) are names, not requests; nothing else may name a host.
    const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0]).filter((u) => !u.includes("www.w3.org/"));
    expect(`${name}: ${urls.join(" ")}`).toBe(`${name}: `);
  }
});

describe("Accept-Encoding", () => {
  test.each([
    [null, "identity"],
    ["", "identity"],
    ["gzip, deflate, br, zstd", "br"],
    ["gzip", "gzip"],
    ["br;q=0, gzip;q=0.5", "gzip"],
    ["*", "br"],
    ["*;q=0", "identity"],
    ["identity", "identity"],
    ["GZIP", "gzip"],
  ] as const)("%p gives %p", (header, encoding) => {
    expect(pickEncoding(header)).toBe(encoding);
  });
});

describe("GET /assets/…", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  const get = (path: string, acceptEncoding: string) => fetch(s.url + path, { headers: { "accept-encoding": acceptEncoding }, decompress: false } as RequestInit);

  test("serves each file with immutable caching, brotli or gzip when accepted, the same bytes as the build", async () => {
    const built = committedAssets();
    for (const name of Object.keys(BUILT_ASSETS) as (keyof typeof BUILT_ASSETS)[]) {
      const url = assetUrl(name);
      const original = Buffer.from(built.get(BUILT_ASSETS[name].file)!);
      for (const [accept, encoding, decode] of [
        ["br, gzip", "br", brotliDecompressSync],
        ["gzip", "gzip", gunzipSync],
        ["identity", null, (b: Buffer) => b],
      ] as const) {
        const r = await get(url, accept);
        expect(`${url} ${accept} ${r.status}`).toBe(`${url} ${accept} 200`);
        expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
        expect(r.headers.get("content-type")).toBe(BUILT_ASSETS[name].type);
        expect(r.headers.get("content-encoding")).toBe(encoding);
        expect(r.headers.get("vary")?.toLowerCase()).toBe("accept-encoding");
        const body = Buffer.from(await r.arrayBuffer());
        if (encoding) expect(body.length).toBeLessThan(original.length);
        expect(Buffer.compare(decode(body), original)).toBe(0);
      }
    }
  });

  test("an unknown or stale file name is a 404, not an old file", async () => {
    const stale = assetUrl("console.js").replace(/\.[0-9a-f]{10}\./, ".0000000000.");
    for (const path of [stale, "/assets/console.js", "/assets/manifest.ts", "/assets/..%2Fpackage.json"]) {
      const r = await get(path, "gzip");
      expect(`${path} ${r.status}`).toBe(`${path} 404`);
      await r.arrayBuffer();
    }
  });
});
