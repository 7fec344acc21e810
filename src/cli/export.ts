// Writing `jobs export`'s files: the one part of it that touches the disk.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, isAbsolute } from "node:path";
import { CliError } from "./run";

export interface WrittenFile {
  /** The file's path as written: DIR/<namespace>/<name>.yaml. */
  file: string;
  action: "wrote" | "overwrote" | "unchanged";
}

/**
 * Writes each file under `dir`, creating directories. A file already there with the same
 * text is left alone; one that differs stops the export before anything is written, unless
 * `force`: a hand edit is not lost by a second export.
 */
export function writeExport(dir: string, files: { path: string; content: string }[], force: boolean): WrittenFile[] {
  const plan = files.map(({ path, content }) => {
    // The server builds paths from names that cannot hold "/" or "..": checked again, as this writes to disk.
    if (isAbsolute(path) || normalize(path).startsWith("..")) throw new CliError(`refusing to write ${path}: outside ${dir}`);
    const file = join(dir, path);
    const before = existsSync(file) ? readFileSync(file, "utf8") : null;
    const action: WrittenFile["action"] = before === null ? "wrote" : before === content ? "unchanged" : "overwrote";
    return { file, content, action };
  });
  const differing = plan.filter((p) => p.action === "overwrote");
  if (differing.length && !force) {
    throw new CliError(`${differing.map((p) => p.file).join(", ")}: already there and different from the job; pass --force to overwrite`);
  }
  for (const p of plan) {
    if (p.action === "unchanged") continue;
    mkdirSync(dirname(p.file), { recursive: true });
    writeFileSync(p.file, p.content);
  }
  return plan.map(({ file, action }) => ({ file, action }));
}
