// Static files are imported as embedded files so a `bun build --compile` binary serves them too.
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const FILES: Record<string, { path: string; type: string }> = {
  "vendor/swagger-ui-bundle.js": { path: swaggerJs, type: "text/javascript; charset=utf-8" },
  "vendor/swagger-ui.css": { path: swaggerCss, type: "text/css; charset=utf-8" },
};

/** Registers more public files (the console's scripts and styles, later). */
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
