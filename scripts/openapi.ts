// Writes the API document the app serves (GET /api/openapi.json) to a file, for `redocly lint`
// in scripts/test.sh: the document is generated from the routes, so it is linted as served.
import { loadConfig } from "../src/config";
import { migrate, openDb } from "../src/db";
import { createApp, createContext } from "../src/app";

const out = process.argv[2];
if (!out) {
  console.error("usage: bun scripts/openapi.ts OUT.json");
  process.exit(2);
}
const config = loadConfig({ CRONTOPUS_DATA_DIR: "/nonexistent", CRONTOPUS_BASE_URL: "https://crontopus.invalid", CRONTOPUS_LOG_LEVEL: "silent" });
const db = openDb(":memory:");
migrate(db);
const app = createApp(createContext(db, config));
const res = await app.handle(new Request("http://localhost/api/openapi.json"));
if (res.status !== 200) {
  console.error(`GET /api/openapi.json answered ${res.status}`);
  process.exit(1);
}
await Bun.write(out, await res.text());
