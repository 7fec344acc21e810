// Flags and set-up shared by the commands that work on the data directory.
import { config as loadDotenv } from "dotenv";
import { loadConfig, type Config, type ConfigFlags } from "../config";
import { UsageError } from "./run";

export const envFileArg = {
  "env-file": { type: "string", description: "Load environment variables from this file (on top of ./.env)", valueHint: "PATH" },
} as const;

export const serverArgs = {
  ...envFileArg,
  "data-dir": { type: "string", description: "Data directory (CRONTOPUS_DATA_DIR, default ./data)", valueHint: "DIR" },
} as const;

/** Reads configuration: environment (plus --env-file), then flags on top. */
export function configFrom(args: Record<string, unknown>, flags: ConfigFlags = {}): Config {
  const envFile = args["env-file"] as string | undefined;
  if (envFile) {
    const res = loadDotenv({ path: envFile, override: true, quiet: true });
    if (res.error) throw new UsageError(`--env-file: cannot read ${envFile}`);
  }
  return loadConfig(process.env, { dataDir: args["data-dir"] as string | undefined, ...flags });
}
