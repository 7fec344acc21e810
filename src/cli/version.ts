import { command } from "./args";
import { commitOf, VERSION } from "../version";

export default command({
  meta: { name: "version", description: "Print the version and the commit it was built from" },
  args: { json: { type: "boolean", description: "Print JSON" } },
  run({ args }) {
    const commit = commitOf();
    console.log(args.json ? JSON.stringify({ version: VERSION, commit, bun: Bun.version }) : `crontopus ${VERSION} (commit ${commit}, bun ${Bun.version})`);
  },
});
