// Labels as the console's forms write them: key=value, one a line (a job's, an agent's, an
// enrollment token's). The services check the keys and values; this only splits the text.
import { Invalid } from "../errors";

/** The labels of a textarea; a line without "=" is an error on `field`, naming the line. */
export function labelsFromLines(field: string, text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Invalid(field, `line ${i + 1} ("${line.slice(0, 40)}"): write each label as key=value`);
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return labels;
}

/** Labels as the textarea shows them. */
export function labelLines(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}
