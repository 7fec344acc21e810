// Plain-language validation messages: what is wrong with a value, against the JSON Schema a
// route declares (TypeBox schemas are JSON Schema). TypeBox's own wording names types where a
// person needs values ("should be one of: 'string', 'string'"), so the API says it this way.

export interface Issue {
  /** Where, as the user wrote it: `name`, `labels.team`, `jobs[1].state`. */
  field: string;
  message: string;
}

type Schema = Record<string, any>;

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** Joins choices the way a sentence does: `read, write or admin`. */
export function oneOf(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** The constant values of a union of literals (an enum), or null when it is something else. */
function literals(schema: Schema): unknown[] | null {
  if (Array.isArray(schema.enum)) return schema.enum;
  if ("const" in schema) return [schema.const];
  const branches = schema.anyOf ?? schema.oneOf;
  if (!Array.isArray(branches) || branches.length === 0) return null;
  const out: unknown[] = [];
  for (const b of branches) {
    const l = literals(b);
    if (!l) return null;
    out.push(...l);
  }
  return out;
}

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/**
 * Elysia lets query strings (and form bodies) carry numbers and booleans as text, by turning
 * `t.Integer()` into "a string that reads as an integer, or an integer". The typed branch is
 * the one that means something; the text is read as that type before it is checked.
 */
function coerced(schema: Schema): { typed: Schema } | null {
  const b = schema.anyOf;
  if (!Array.isArray(b) || b.length !== 2) return null;
  const text = b.find((x: Schema) => x.type === "string" && ["integer", "numeric", "number", "boolean"].includes(x.format));
  const typed = b.find((x: Schema) => x !== text);
  if (!text || !typed) return null;
  // The typed branch may itself be such a pair (t.BooleanString inside an optional).
  const inner = coerced(typed);
  return { typed: { ...schema, ...(inner ? inner.typed : typed), anyOf: undefined } };
}

/** Reads text as the type a coerced schema wants; the value itself when it does not read so. */
function fromText(value: unknown, schema: Schema): unknown {
  if (typeof value !== "string") return value;
  if (schema.type === "integer" || schema.type === "number") return /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (schema.type === "boolean") return value === "true" ? true : value === "false" ? false : value;
  return value;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function matchesType(type: string, v: unknown): boolean {
  const t = typeOf(v);
  return type === t || (type === "number" && t === "integer");
}

const NOUNS: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "a list",
  null: "null",
};

/** What a schema wants, in a few words: `an integer`, `a string or an integer`. */
function wanted(schema: Schema): string {
  const l = literals(schema);
  if (l) return oneOf(l.map(show));
  const c = coerced(schema);
  if (c) return wanted(c.typed);
  if (Array.isArray(schema.anyOf)) return oneOf(schema.anyOf.map(wanted));
  if (Array.isArray(schema.type)) return oneOf(schema.type.map((t: string) => NOUNS[t] ?? article(t)));
  if (schema.patternProperties) return "an object of strings";
  return NOUNS[schema.type] ?? "a valid value";
}

function range(schema: Schema, unit = ""): string | null {
  const lo = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : undefined);
  const hi = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : undefined);
  if (lo !== undefined && hi !== undefined) return `from ${lo} to ${hi}${unit}`;
  if (lo !== undefined) return `at least ${lo}${unit}`;
  if (hi !== undefined) return `at most ${hi}${unit}`;
  return null;
}

/**
 * Every problem with `value` against `schema`, outermost first; empty when it is valid.
 * `root` names the whole value (`body`, `query`) when it is itself at fault.
 */
export function explain(schema: Schema, value: unknown, root = "body", path = ""): Issue[] {
  const at = path || root;
  if (!schema || typeof schema !== "object") return [];
  const l = literals(schema);
  if (l) return l.some((x) => x === value) ? [] : [{ field: at, message: `must be ${oneOf(l.map(show))}` }];

  const c = coerced(schema);
  if (c) return explain(c.typed, fromText(value, c.typed), root, path);

  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf as Schema[];
    if (branches.some((b) => explain(b, value, root, path).length === 0)) return [];
    // One branch of the value's own type: its complaint is the useful one ("must be at least 1").
    const sameType = branches.filter((b) => {
      const type = coerced(b)?.typed.type ?? b.type;
      return type === undefined || matchesType(type, fromText(value, { type }));
    });
    if (sameType.length === 1) return explain(sameType[0]!, value, root, path);
    return [{ field: at, message: `must be ${wanted(schema)}` }];
  }

  const type = schema.type;
  if (Array.isArray(type)) {
    const fit = type.find((t: string) => matchesType(t, value));
    return fit ? explain({ ...schema, type: fit }, value, root, path) : [{ field: at, message: `must be ${wanted(schema)}` }];
  }
  if (type !== undefined && !matchesType(type, value)) {
    if (value === undefined) return [{ field: at, message: "is required" }];
    return [{ field: at, message: `must be ${wanted(schema)}` }];
  }

  switch (type) {
    case "string": {
      const s = value as string;
      if (schema.minLength !== undefined && s.length < schema.minLength) {
        return [{ field: at, message: schema.minLength === 1 ? "must not be empty" : `must be at least ${schema.minLength} characters` }];
      }
      if (schema.maxLength !== undefined && s.length > schema.maxLength) return [{ field: at, message: `must be at most ${schema.maxLength} characters` }];
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(s)) return [{ field: at, message: "has characters that are not allowed here" }];
      return [];
    }
    case "integer":
    case "number": {
      const n = value as number;
      const tooLow = (schema.minimum !== undefined && n < schema.minimum) || (schema.exclusiveMinimum !== undefined && n <= schema.exclusiveMinimum);
      const tooHigh = (schema.maximum !== undefined && n > schema.maximum) || (schema.exclusiveMaximum !== undefined && n >= schema.exclusiveMaximum);
      return tooLow || tooHigh ? [{ field: at, message: `must be ${range(schema)}` }] : [];
    }
    case "array": {
      const a = value as unknown[];
      if (schema.minItems !== undefined && a.length < schema.minItems) return [{ field: at, message: schema.minItems === 1 ? "must not be empty" : `must have at least ${schema.minItems} items` }];
      if (schema.maxItems !== undefined && a.length > schema.maxItems) return [{ field: at, message: `must have at most ${schema.maxItems} items` }];
      if (!schema.items) return [];
      // A list of choices (scopes) is named as a whole: "scopes: must be read, write or admin".
      const itemChoices = literals(schema.items);
      const out: Issue[] = [];
      a.forEach((item, i) => {
        for (const issue of explain(schema.items, item, root, join(path, i))) out.push(itemChoices ? { field: at, message: issue.message } : issue);
      });
      return out;
    }
    case "object": {
      const o = value as Record<string, unknown>;
      const out: Issue[] = [];
      const props: Record<string, Schema> = schema.properties ?? {};
      const required: string[] = schema.required ?? [];
      for (const [key, sub] of Object.entries(props)) {
        if (o[key] === undefined) {
          if (required.includes(key)) out.push({ field: join(path, key), message: "is required" });
          continue;
        }
        out.push(...explain(sub, o[key], root, join(path, key)));
      }
      const extra = Object.keys(o).filter((k) => !(k in props));
      if (schema.patternProperties) {
        const [pattern, sub] = Object.entries(schema.patternProperties as Record<string, Schema>)[0]!;
        const re = new RegExp(pattern, "u");
        for (const k of extra) {
          if (!re.test(k)) out.push({ field: join(path, k), message: "is not an allowed key" });
          else out.push(...explain(sub, o[k], root, join(path, k)));
        }
      } else if (schema.additionalProperties === false) {
        for (const k of extra) out.push({ field: join(path, k), message: "is not a known field" });
      } else if (typeof schema.additionalProperties === "object") {
        for (const k of extra) out.push(...explain(schema.additionalProperties, o[k], root, join(path, k)));
      }
      return out;
    }
  }
  return [];
}
