// docs/cli.md is generated from the CLI's own definitions (scripts/gen-cli-docs.ts): it fails
// here when a command, a flag or a description changed and the page was not written again.
import { describe, expect, test } from "bun:test";
import { defineCommand } from "citty";
import { CLI_DOC, readProse, renderCliDocs } from "../scripts/gen-cli-docs";
import { main } from "../src/main";

const current = await Bun.file(CLI_DOC).text();

describe("docs/cli.md", () => {
  test("is what the generator writes from the CLI's definitions (if not: bun run docs:cli)", async () => {
    expect(await renderCliDocs(current)).toBe(current);
  });

  test("documents every command with its synopsis and every flag of it", async () => {
    expect(current).toContain("crontopus backup --out FILE [--json]");
    expect(current).toContain("crontopus restore FILE [--json]");
    expect(current).toContain("crontopus jobs list [-n NS] [--status STATUS] [-l KEY=VALUE]… [-q TEXT] [--limit N] [--all] [--json]");
    expect(current).toContain("| `-l`, `--label KEY=VALUE` | Only jobs with this label: KEY=VALUE, or KEY alone for any value; repeat to require several. |");
    expect(current).toContain("crontopus exec [--ping-url URL] [--job UUID] [--state-dir DIR] [--timeout DURATION] -- COMMAND [ARGS…]");
  });

  test("a changed flag shows up, and the hand-written prose is kept as it is", async () => {
    const jobs = await (main.subCommands as Record<string, () => Promise<any>>).jobs!();
    const list = await jobs.subCommands.list;
    const changed = defineCommand({
      ...main,
      subCommands: {
        ...main.subCommands,
        jobs: defineCommand({ ...jobs, subCommands: { ...jobs.subCommands, list: { ...list, args: { ...list.args, frobnicate: { type: "boolean", description: "Frobnicate the jobs" } } } } }),
      },
    });
    const page = await renderCliDocs(current, changed);
    expect(page).not.toBe(current);
    expect(page).toContain("[--all] [--frobnicate] [--json]\n");
    expect(page).toContain("| `--frobnicate` | Frobnicate the jobs. |");
    expect(readProse(page)).toEqual(readProse(current));
  });

  test("refuses a command it has no place for, and prose it would drop", async () => {
    const extra = defineCommand({ ...main, subCommands: { ...main.subCommands, frobnicate: defineCommand({ meta: { name: "frobnicate", description: "x" } }) } });
    await expect(renderCliDocs(current, extra)).rejects.toThrow("commands missing from the layout in scripts/gen-cli-docs.ts: frobnicate");
    await expect(renderCliDocs(current + "\n<!-- prose:gone -->\nkeep me\n<!-- /prose -->\n")).rejects.toThrow("prose for no section (would be lost): gone");
    await expect(renderCliDocs(current + "\n<!-- prose:Not An Id -->\nkeep me\n<!-- /prose -->\n")).rejects.toThrow("a marker is malformed or unclosed");
  });
});
