import { command } from "./args";
import { VERSION } from "../version";

export default command({
  meta: { name: "version", description: "Print the version" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run({ args }) {
    console.log(args.json ? JSON.stringify({ version: VERSION, bun: Bun.version }) : `crontopus ${VERSION} (bun ${Bun.version})`);
  },
});
