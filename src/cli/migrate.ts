import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { openDb, schemaVersion } from "../db";
import { migrateWithBackup } from "../backups/backups";

export default command({
  meta: { name: "migrate", description: "Apply pending database migrations (after a backup into backups/) and exit" },
  args: { ...serverArgs },
  run({ args }) {
    const config = configFrom(args);
    const db = openDb(config.dbPath, { sync: config.syncMode });
    try {
      const { applied, backup } = migrateWithBackup(db, config.dbPath, config.dataDir);
      if (backup) console.log(`backed up schema ${backup.schema_version} to ${backup.file}`);
      console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      console.log(`schema version ${schemaVersion(db)} at ${config.dbPath}`);
    } finally {
      db.close();
    }
  },
});
