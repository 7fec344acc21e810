// What the client commands share: JSON for scripts (--json), a table or a line for people.
import { clientArgs, clientCommand, connect } from "./client";
import { printJson, printTable } from "./output";

type Cell = string | number | null | undefined;

/** Reports what a command did: `value` as JSON with --json, else the sentence `line`. */
export function printDone(json: boolean | undefined, value: unknown, line: string): void {
  if (json) printJson(value);
  else console.log(line);
}

/** `<noun> list`: GETs a collection and prints it as `{ key: rows }` with --json, else as a table. */
export function listCommand<T>(spec: {
  description: string;
  /** The collection's route, e.g. /api/v1/tokens. */
  path: string;
  /** The answer's field that holds the rows, e.g. "tokens"; --json prints `{ key: rows }`. */
  key: string;
  /** Each column's header and cell. */
  columns: [header: string, cell: (row: T) => Cell][];
}) {
  return clientCommand({
    meta: { name: "list", description: spec.description },
    args: { ...clientArgs },
    async run({ args }) {
      const rows = (await connect(args).request<Record<string, T[]>>("GET", spec.path))[spec.key] ?? [];
      if (args.json) return printJson({ [spec.key]: rows });
      printTable(
        spec.columns.map(([header]) => header),
        rows.map((row) => spec.columns.map(([, cell]) => cell(row))),
      );
    },
  });
}
