// Output of the client commands: aligned tables for people, JSON for scripts.

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export const useColour = () => !process.env.NO_COLOR && process.stdout.isTTY === true;

export const bold = (s: string) => (useColour() ? `\x1b[1m${s}\x1b[22m` : s);

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Prints rows under a header, columns padded to their widest cell; nothing but the header when empty. */
export function printTable(header: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === "" ? "-" : String(c))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  console.log(bold(line(header)));
  for (const r of cells) console.log(line(r));
}

/** Prints `label: value` lines with the values aligned; an empty label continues the line above. */
export function printFields(fields: [string, string | number | null | undefined][]): void {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  for (const [k, v] of fields) {
    console.log(`${bold((k ? `${k}:` : "").padEnd(width))} ${v === null || v === undefined || v === "" ? "-" : v}`);
  }
}

/** A timestamp (ISO string or epoch milliseconds) as `2026-11-20 14:03 UTC`. */
export function formatTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined) return "-";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** Writes a warning line to stderr, where it does not mix with output meant for pipes. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}
