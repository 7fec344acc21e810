// `npm run bench`: runs every benchmark (or those named: `npm run bench -- jobs-api`).
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && !["index.ts", "lib.ts"].includes(f) && !f.endsWith(".test.ts"))
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((b) => wanted.length === 0 || wanted.includes(b));
let failed = 0;
for (const b of benches) {
  console.log(`\n=== ${b}`);
  const p = Bun.spawn([process.execPath, join(dir, `${b}.ts`)], { stdout: "inherit", stderr: "inherit" });
  if ((await p.exited) !== 0) failed++;
}
process.exit(failed ? 1 : 0);
