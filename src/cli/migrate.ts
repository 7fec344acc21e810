import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { migrate, openDb, schemaVersion } from "../db";

export default command({
  meta: { name: "migrate", description: "Apply pending database migrations and exit" },
  args: { ...serverArgs },
  run({ args }) {
    const config = configFrom(args);
    const db = openDb(config.dbPath, { sync: config.syncMode });
    try {
      const applied = migrate(db);
      console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      console.log(`schema version ${schemaVersion(db)} at ${config.dbPath}`);
    } finally {
      db.close();
    }
  },
});
