import { command } from "./args";
import { configFrom, serverArgs } from "./common";
import { describeConfig } from "../config";

export default command({
  meta: { name: "config", description: "Print the effective server configuration (secrets masked)" },
  args: { ...serverArgs, json: { type: "boolean", description: "Print JSON" } },
  run({ args }) {
    const values = describeConfig(configFrom(args));
    if (args.json) console.log(JSON.stringify(values, null, 2));
    else for (const [k, v] of Object.entries(values)) console.log(`${k}=${v}`);
  },
});
