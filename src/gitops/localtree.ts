// The manifest files of a local working tree (crontopus gitops plan --dir), read by the rules and
// limits of a sync (src/gitops/git.ts): *.yaml, *.yml, *.json below the settings' path, no
// symbolic links (git keeps a link as a link, and a sync reads none), nothing inside .git.
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isManifestPath, treeLimitError } from "./git";

export class LocalTreeError extends Error {}

export interface TreeFile {
  /** From the working tree's root, with / between directories. */
  path: string;
  content: string;
}

/** The files a sync of `dir` would read below `root` ("" is the root). Throws LocalTreeError. */
export function readLocalTree(dir: string, root: string): TreeFile[] {
  let top;
  try {
    top = statSync(dir);
  } catch {
    throw new LocalTreeError(`${dir}: no such directory`);
  }
  if (!top.isDirectory()) throw new LocalTreeError(`${dir}: not a directory`);
  const start = root ? join(dir, root) : dir;
  let below;
  try {
    below = lstatSync(start);
  } catch {
    throw new LocalTreeError(`path ${root} does not exist in ${dir}`);
  }
  if (!below.isDirectory()) throw new LocalTreeError(`path ${root} in ${dir} is not a directory`);

  const found: { path: string; size: number }[] = [];
  const walk = (rel: string) => {
    const abs = rel ? join(dir, rel) : dir;
    for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== ".git") walk(p);
      } else if (e.isFile() && isManifestPath(p, root)) {
        found.push({ path: p, size: lstatSync(join(dir, p)).size });
      }
    }
  };
  walk(root);
  // Sizes are checked before anything is read, as a sync checks them before reading the blobs.
  const over = treeLimitError(found, root);
  if (over) throw new LocalTreeError(over);
  return found.map((f) => ({ path: f.path, content: readFileSync(join(dir, f.path), "utf8") }));
}
