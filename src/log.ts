import type { LogFormat, LogLevel } from "./config";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const toStderr = (line: string) => {
  process.stderr.write(line + "\n");
};

/**
 * One line per event on stderr, so journald and docker logs keep it whole: JSON lines, or
 * `time LEVEL message key=value …` for a person at a terminal. `auto` decides by stderr, and
 * only for the default writer (a caller that passes its own `write` reads JSON).
 */
export function createLogger(level: LogLevel, write: (line: string) => void = toStderr, format: LogFormat = "auto"): Logger {
  const min = ORDER[level];
  const text = format === "text" || (format === "auto" && write === toStderr && process.stderr.isTTY === true);
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const time = new Date().toISOString();
    write(redact(text ? textLine(time, lvl, msg, fields) : JSON.stringify({ time, level: lvl, msg, ...fields })));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function textLine(time: string, level: LogLevel, msg: string, fields?: Record<string, unknown>): string {
  let line = `${time} ${level.toUpperCase().padEnd(5)} ${oneLine(msg)}`;
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
  return line;
}

/** A value as one word: bare when it is one already, else quoted with JSON's escapes (a stack trace stays on its line). */
function textValue(v: unknown): string {
  if (v === null) return "-";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v !== "string") {
    // A list or an object as compact JSON, which is one word unless a string inside has a space.
    const json = JSON.stringify(v) ?? String(v);
    return /\s/.test(json) ? JSON.stringify(json) : json;
  }
  return v !== "" && /^[^\s"=\\\x00-\x1f\x7f]+$/.test(v) ? v : JSON.stringify(v);
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ");

/**
 * The last line of defence, whatever a caller passed in: Crontopus's own tokens (API `ctp_`,
 * enrollment `cte_`, agent `cta_`, invitation `cti_`) and the password of a URL with credentials
 * (an SMTP URL in an error) never reach the log. Secrets without a shape of their own (ping
 * tokens, session ids) are kept out by never logging URLs, headers or bodies.
 */
export function redact(line: string): string {
  return line
    .replace(/\b(ct[peai]_)[A-Za-z0-9_-]{16,}/g, "$1[redacted]")
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"]*):[^@/\s"]*@/gi, "$1:[redacted]@");
}
