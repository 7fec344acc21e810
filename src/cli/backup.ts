import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { printDone } from "./commands";
import { fail } from "./run";
import { backupTo } from "../backups/backups";

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export default command({
  meta: {
    name: "backup",
    description: "Write a consistent snapshot of the database to a file, while the server keeps running",
  },
  args: {
    ...serverArgs,
    out: { type: "string", required: true, description: "The backup file to write (replaced if it exists; written aside and renamed, so never half-written)", valueHint: "FILE" },
    json: { type: "boolean", description: "Print JSON" },
  },
  run({ args }) {
    const config = configFrom(args);
    if (!existsSync(config.dbPath)) fail(`no database at ${config.dbPath}: check --data-dir`);
    // SQLite's VACUUM INTO on a connection of our own: one read transaction, so a snapshot of
    // every commit before it began; in WAL mode the server's writes go on meanwhile.
    const db = new Database(config.dbPath, { readwrite: true, create: false });
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      const r = backupTo(db, config.dbPath, args.out);
      printDone(args.json, r, `backup of ${config.dbPath} written to ${r.file}: ${mb(r.bytes)}, schema ${r.schema_version}, ${r.checkins} check-ins, in ${(r.ms / 1000).toFixed(2)} s`);
    } finally {
      db.close();
    }
  },
});
