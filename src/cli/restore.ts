import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { printDone } from "./commands";
import { restoreFrom } from "../backups/backups";
import { MIGRATIONS } from "../migrations";

export default command({
  meta: {
    name: "restore",
    description: "Replace the database with a backup (the server must be stopped; the replaced database is kept in backups/)",
  },
  args: {
    file: { type: "positional", required: true, description: "The backup file (from `crontopus backup` or a scheduled backup)", valueHint: "FILE" },
    ...serverArgs,
    json: { type: "boolean", description: "Print JSON" },
  },
  run({ args }) {
    const config = configFrom(args);
    const r = restoreFrom(args.file, config.dbPath, config.dataDir, config.secretKeyPath);
    const latest = MIGRATIONS.at(-1)!.version;
    const lines = [
      `restored ${r.file} (schema ${r.schema_version}, ${r.checkins} check-ins) into ${config.dbPath}`,
      r.replaced ? `the database it replaced is kept as ${r.replaced}` : null,
      r.schema_version < latest ? `serve migrates it to schema ${latest} when it starts (after a backup)` : null,
    ];
    printDone(args.json, r, lines.filter(Boolean).join("\n"));
    if (r.key_warning) process.stderr.write(`warning: ${r.key_warning}\n`);
  },
});
