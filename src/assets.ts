// Static files are imported as embedded files so a `bun build --compile` binary serves them too.
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { BUILT_ASSETS } from "../public/build/manifest";

const FILES: Record<string, { path: string; type: string }> = {
  "vendor/swagger-ui-bundle.js": { path: swaggerJs, type: "text/javascript; charset=utf-8" },
  "vendor/swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
};

/** Registers more public files (served under /public/, cached for an hour). */
export function addPublicFile(name: string, path: string, type: string) {
  FILES[name] = { path, type };
}

export function publicFile(name: string): Response | null {
  const f = FILES[name];
  if (!f) return null;
  return new Response(Bun.file(f.path), {
    headers: { "content-type": f.type, "cache-control": "public, max-age=3600" },
  });
}

// The console's own assets (public/, built by scripts/build-assets.ts): a file's name carries a
// hash of its content, so a URL always means the same bytes and browsers may keep it for a year.

export type AssetName = keyof typeof BUILT_ASSETS;

/** The URL of a console asset: `/assets/console.<hash>.js`. */
export function assetUrl(name: AssetName): string {
  return `/assets/${BUILT_ASSETS[name].file}`;
}

const BY_FILE = new Map<string, { path: string; type: string }>(Object.values(BUILT_ASSETS).map((a) => [a.file, a]));

export type Encoding = "br" | "gzip" | "identity";

/** The best encoding the client accepts (Accept-Encoding, with its q-values): brotli, then gzip. */
export function pickEncoding(acceptEncoding: string | null): Encoding {
  if (!acceptEncoding) return "identity";
  const q = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(",")) {
    const [coding, ...params] = part.trim().split(";");
    if (!coding) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(coding, Number.isFinite(value) ? value : 0);
  }
  const accepts = (c: string) => (q.get(c) ?? q.get("*") ?? 0) > 0;
  if (accepts("br")) return "br";
  if (accepts("gzip")) return "gzip";
  return "identity";
}

// Each file compressed once, on its first request (brotli at its best: ~40 ms for the script).
const compressed = new Map<string, Uint8Array>();

async function bodyOf(file: string, path: string, encoding: Encoding): Promise<Uint8Array> {
  const key = `${encoding}:${file}`;
  let bytes = compressed.get(key);
  if (bytes) return bytes;
  const raw = await Bun.file(path).bytes();
  if (encoding === "identity") bytes = raw;
  else if (encoding === "br") bytes = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  else bytes = gzipSync(raw, { level: 9 });
  compressed.set(key, bytes);
  return bytes;
}

/** GET /assets/<file>: a fingerprinted console asset, compressed when the client accepts it; null for no such file. */
export async function assetResponse(file: string, request: Request): Promise<Response | null> {
  const asset = BY_FILE.get(file);
  if (!asset) return null;
  const encoding = pickEncoding(request.headers.get("accept-encoding"));
  const body = await bodyOf(file, asset.path, encoding);
  const headers: Record<string, string> = {
    "content-type": asset.type,
    "cache-control": "public, max-age=31536000, immutable",
    vary: "accept-encoding",
  };
  if (encoding !== "identity") headers["content-encoding"] = encoding;
  return new Response(body as Uint8Array<ArrayBuffer>, { headers });
}
