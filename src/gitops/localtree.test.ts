// readLocalTree over a real directory: the files `plan --dir` sends are the files a sync reads.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "../../test/helpers";
import { MAX_FILE_BYTES } from "./git";
import { readLocalTree } from "./localtree";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = tempDir("crontopus-tree-");
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("readLocalTree", () => {
  test("reads *.yaml, *.yml and *.json below the path, in order, with paths from the tree's root", () => {
    const dir = tree({ "jobs/b.yaml": "b", "jobs/a/c.yml": "c", "jobs/d.json": "{}", "jobs/e.txt": "no", "other/f.yaml": "no", "README.md": "no" });
    expect(readLocalTree(dir, "jobs")).toEqual([
      { path: "jobs/a/c.yml", content: "c" },
      { path: "jobs/b.yaml", content: "b" },
      { path: "jobs/d.json", content: "{}" },
    ]);
    expect(readLocalTree(dir, "").map((f) => f.path)).toEqual(["jobs/a/c.yml", "jobs/b.yaml", "jobs/d.json", "other/f.yaml"]);
  });

  test("skips .git and symbolic links (a sync reads neither)", () => {
    const dir = tree({ ".git/config.yaml": "no", "a.yaml": "a", "elsewhere/secret.yaml": "no" });
    symlinkSync(join(dir, "elsewhere/secret.yaml"), join(dir, "link.yaml"));
    symlinkSync(join(dir, "elsewhere"), join(dir, "linked-dir"));
    expect(readLocalTree(dir, "").map((f) => f.path)).toEqual(["a.yaml", "elsewhere/secret.yaml"]);
  });

  test("a missing directory or path is an error, not an empty tree", () => {
    const dir = tree({ "a.yaml": "a" });
    expect(() => readLocalTree(join(dir, "nope"), "")).toThrow(`${join(dir, "nope")}: no such directory`);
    expect(() => readLocalTree(join(dir, "a.yaml"), "")).toThrow("not a directory");
    expect(() => readLocalTree(dir, "jobs")).toThrow(`path jobs does not exist in ${dir}`);
  });

  test("holds the sync's limits, checked on sizes before reading", () => {
    const dir = tree({ "big.yaml": "x".repeat(MAX_FILE_BYTES + 1) });
    expect(() => readLocalTree(dir, "")).toThrow(`big.yaml is ${MAX_FILE_BYTES + 1} bytes; files over ${MAX_FILE_BYTES} bytes are refused`);
  });
});
