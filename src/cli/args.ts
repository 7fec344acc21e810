// Strict argument checking for every command (citty alone accepts typos silently).
import type { ArgsDef, CommandDef } from "citty";
import { UsageError } from "./run";

/** Every value of a repeatable flag (citty keeps only the last one). */
export function repeated(rawArgs: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    for (const n of names) {
      const flag = n.length === 1 ? `-${n}` : `--${n}`;
      if (a === flag && i + 1 < rawArgs.length) out.push(rawArgs[++i]!);
      else if (a.startsWith(flag + "=")) out.push(a.slice(flag.length + 1));
    }
  }
  return out;
}

interface ArgDef {
  type?: string;
  alias?: string | string[];
}

/**
 * citty accepts unknown flags and extra arguments silently; a typo such as `--namspace` would
 * then list every job. Refuse them, and string flags given without a value, as usage errors.
 */
export function checkArgs(rawArgs: string[], defs: Record<string, ArgDef>): void {
  const flags = new Map<string, string>();
  let positionals = 0;
  for (const [name, d] of Object.entries(defs)) {
    if (d.type === "positional") {
      positionals++;
      continue;
    }
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const n of [name, kebab, ...(Array.isArray(d.alias) ? d.alias : d.alias ? [d.alias] : [])]) flags.set(n, d.type ?? "string");
  }
  const given: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") {
      given.push(...rawArgs.slice(i + 1));
      break;
    }
    if (a === "-" || !a.startsWith("-")) {
      given.push(a);
      continue;
    }
    const flag = a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    const name = flag.replace(/^--?/, "");
    let type = flags.get(name);
    if (type === undefined && name.startsWith("no-") && flags.get(name.slice(3)) === "boolean") type = "boolean";
    if (type === undefined) throw new UsageError(`unknown option ${flag}`);
    if (type !== "boolean" && flag === a) {
      const next = rawArgs[i + 1];
      // Like citty, take the next word as the value even if it starts with "-"; "--x" is surely a flag.
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${flag} needs a value`);
      i++;
    }
  }
  if (given.length > positionals) throw new UsageError(`unexpected argument "${given[positionals]}"`);
}

/** defineCommand, strictly: unknown flags and extra arguments are usage errors. */
export function command<const T extends ArgsDef>(def: CommandDef<T>): CommandDef<T> {
  const run = def.run;
  if (!run) return def;
  return {
    ...def,
    run(ctx) {
      checkArgs(ctx.rawArgs, (def.args ?? {}) as Record<string, ArgDef>);
      return run(ctx);
    },
  };
}

/** A flag that takes one of a few words; anything else is a usage error (exit 2). */
export function choiceFlag<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: expected ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

/** A whole-number flag within bounds, checked before anything is sent. */
export function wholeNumberFlag(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

/** `--scopes read,write`: each one read, write or admin. */
export function scopesFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const scopes = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of scopes) choiceFlag("--scopes", s, ["read", "write", "admin"] as const);
  return scopes;
}
