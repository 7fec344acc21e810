// docs/configuration.md lists every variable the code reads: a new CRONTOPUS_* name in src/ or
// agent/ without a row there fails here, and so does a row for a variable nothing reads.
import { expect, test } from "bun:test";
import { Glob } from "bun";
import { join } from "node:path";
import { describeConfig, loadConfig } from "../src/config";
import { ROOT } from "./helpers";

/** Read by tests only, to steer them; not for operators. */
const TEST_ONLY = new Set(["CRONTOPUS_PROPERTY_SEED", "CRONTOPUS_TEST_REAL_CRONTAB"]);

test("docs/configuration.md documents every CRONTOPUS_* variable the code reads, and no other", async () => {
  const read = new Set<string>();
  for (const dir of ["src", "agent"]) {
    for await (const f of new Glob("**/*.{ts,tsx}").scan(join(ROOT, dir))) {
      if (f.endsWith(".test.ts")) continue;
      for (const m of (await Bun.file(join(ROOT, dir, f)).text()).matchAll(/CRONTOPUS_[A-Z0-9_]*[A-Z0-9]/g)) {
        // `<NAME>_FILE` is the general rule for every server variable, documented once.
        const name = m[0].replace(/_FILE$/, "");
        if (!TEST_ONLY.has(name)) read.add(name);
      }
    }
  }
  const doc = await Bun.file(join(ROOT, "docs/configuration.md")).text();
  const rows = new Set([...doc.matchAll(/^\| `(CRONTOPUS_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
  expect([...read].filter((n) => !rows.has(n)).sort()).toEqual([]);
  expect([...rows].filter((n) => !read.has(n)).sort()).toEqual([]);
  // And `crontopus config` prints every server variable there is a row for in the server table.
  const server = doc.slice(doc.indexOf("## Server variables"), doc.indexOf("## Client-side variables"));
  const serverRows = [...server.matchAll(/^\| `(CRONTOPUS_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!).sort();
  expect(Object.keys(describeConfig(loadConfig({}))).sort()).toEqual(serverRows);
});
