import { join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { checkTargetHost } from "./net/guard";
import { parseSchedule, type Schedule } from "./jobs/schedule";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `auto`: text when stderr is a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ["json", "text", "auto"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly dbPath: string;
  readonly baseUrl: string;
  readonly logLevel: LogLevel;
  /** json, text, or auto (text when stderr is a terminal). */
  readonly logFormat: LogFormat;
  /** Largest ping body kept, in bytes; larger bodies are truncated. */
  readonly pingBodyLimit: number;
  /** Largest API request body read, in bytes (CRONTOPUS_MAX_BODY); larger ones are answered 413. */
  readonly maxBody: number;
  readonly smtpUrl: string | null;
  readonly smtpFrom: string;
  readonly metricsToken: string | null;
  /** Check-ins one job may send per minute before 429 (0: no limit). */
  readonly pingRateLimit: number;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  readonly trustProxy: boolean;
  /** How often the monitoring engine runs, in ms. */
  readonly tickMs: number;
  /** SQLite synchronous mode for the check-in log: NORMAL or FULL. */
  readonly syncMode: "NORMAL" | "FULL";
  /** Where agent binaries for GET /download/<os>-<arch> live (filled by packaging). */
  readonly downloadDir: string;
  /** Seconds between agent heartbeats the server asks for; offline after three missed. */
  readonly agentInterval: number;
  /** Let channel targets (and later Git remotes) reach loopback, private and link-local addresses. */
  readonly allowPrivateTargets: boolean;
  /** CA certificates (PEM) that https Git remotes are checked against instead of the system's; null: the system's. */
  readonly gitopsCaBundle: string | null;
  /** The key file that encrypts channel secrets at rest (created on first use, mode 0600). */
  readonly secretKeyPath: string;
  /** When `serve` writes a backup into <data dir>/backups (cron or @every, in UTC); null: never. */
  readonly backupSchedule: Schedule | null;
  /** Scheduled backups kept; older ones are deleted after each new one. */
  readonly backupKeep: number;
}

export interface ConfigFlags {
  port?: string | number;
  host?: string;
  dataDir?: string;
  baseUrl?: string;
  logLevel?: string;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** `<NAME>_FILE` lets secrets come from a file (Docker secrets, systemd credentials). */
function readVar(env: Env, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      throw new ConfigError(`${name}_FILE: cannot read ${file}`);
    }
  }
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

function parsePort(name: string, raw: string | number | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const s = String(raw);
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw new ConfigError(`${name}: expected a port number 0-65535, got "${s}"`);
  return Number(s);
}

function parseSize(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const m = /^(\d+)\s*(b|kb|k|kib|mb|m|mib)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(`${name}: expected a size such as 102400, 100KB or 1MB, got "${raw}"`);
  const unit = (m[2] ?? "b").toLowerCase();
  const mult = unit.startsWith("m") ? 1024 * 1024 : unit.startsWith("k") ? 1024 : 1;
  return Number(m[1]) * mult;
}

function parseBool(name: string, raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
}

function parseCount(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) throw new ConfigError(`${name}: expected a whole number of at least ${min}, got "${raw}"`);
  return Number(raw);
}

export function loadConfig(env: Env = process.env, flags: ConfigFlags = {}): Config {
  const port = parsePort(flags.port !== undefined ? "--port" : "CRONTOPUS_PORT", flags.port ?? readVar(env, "CRONTOPUS_PORT"), 8080);
  const host = flags.host ?? readVar(env, "CRONTOPUS_HOST") ?? "0.0.0.0";
  const dataDir = resolve(flags.dataDir ?? readVar(env, "CRONTOPUS_DATA_DIR") ?? "./data");

  const rawBase = flags.baseUrl ?? readVar(env, "CRONTOPUS_BASE_URL") ?? `http://localhost:${port}`;
  let baseUrl: string;
  try {
    const u = new URL(rawBase);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    baseUrl = u.toString().replace(/\/+$/, "");
  } catch {
    throw new ConfigError(`CRONTOPUS_BASE_URL: expected an http(s) URL, got "${rawBase}"`);
  }

  const logLevel = (flags.logLevel ?? readVar(env, "CRONTOPUS_LOG_LEVEL") ?? "info").toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`CRONTOPUS_LOG_LEVEL: expected one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }

  const logFormat = (readVar(env, "CRONTOPUS_LOG_FORMAT") ?? "auto").toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(`CRONTOPUS_LOG_FORMAT: expected one of ${LOG_FORMATS.join(", ")}, got "${logFormat}"`);
  }

  const syncMode = (readVar(env, "CRONTOPUS_SQLITE_SYNC") ?? "NORMAL").toUpperCase();
  if (syncMode !== "NORMAL" && syncMode !== "FULL") {
    throw new ConfigError(`CRONTOPUS_SQLITE_SYNC: expected NORMAL or FULL, got "${syncMode}"`);
  }

  const smtpUrl = readVar(env, "CRONTOPUS_SMTP_URL") ?? null;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) {
    throw new ConfigError(`CRONTOPUS_SMTP_URL: expected smtp://… or smtps://…`);
  }
  const allowPrivateTargets = parseBool("CRONTOPUS_ALLOW_PRIVATE_TARGETS", readVar(env, "CRONTOPUS_ALLOW_PRIVATE_TARGETS"));
  // The mail relay is a target like any channel's: an internal one must be allowed outright.
  const smtpRefusal = smtpUrl ? checkTargetHost(smtpHost(smtpUrl), { allowPrivate: allowPrivateTargets }) : null;
  if (smtpRefusal) throw new ConfigError(`CRONTOPUS_SMTP_URL: ${smtpRefusal}`);

  const rawCa = readVar(env, "CRONTOPUS_GITOPS_CA_BUNDLE");
  const gitopsCaBundle = rawCa ? resolve(rawCa) : null;
  if (gitopsCaBundle && !/-----BEGIN CERTIFICATE-----/.test(readTextOrNull(gitopsCaBundle) ?? "")) {
    throw new ConfigError(`CRONTOPUS_GITOPS_CA_BUNDLE: ${gitopsCaBundle} is not a readable file of PEM certificates`);
  }

  return Object.freeze({
    port,
    host,
    dataDir,
    dbPath: join(dataDir, "crontopus.db"),
    baseUrl,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat,
    pingBodyLimit: parseSize("CRONTOPUS_PING_BODY_LIMIT", readVar(env, "CRONTOPUS_PING_BODY_LIMIT"), 100 * 1024),
    maxBody: parseSize("CRONTOPUS_MAX_BODY", readVar(env, "CRONTOPUS_MAX_BODY"), 1024 * 1024),
    pingRateLimit: parseCount("CRONTOPUS_PING_RATE_LIMIT", readVar(env, "CRONTOPUS_PING_RATE_LIMIT"), 600),
    trustProxy: parseBool("CRONTOPUS_TRUST_PROXY", readVar(env, "CRONTOPUS_TRUST_PROXY")),
    tickMs: parseCount("CRONTOPUS_TICK_MS", readVar(env, "CRONTOPUS_TICK_MS"), 25, 10),
    smtpUrl,
    smtpFrom: readVar(env, "CRONTOPUS_SMTP_FROM") ?? "crontopus@localhost",
    metricsToken: readVar(env, "CRONTOPUS_METRICS_TOKEN") ?? null,
    syncMode: syncMode as "NORMAL" | "FULL",
    downloadDir: resolve(readVar(env, "CRONTOPUS_DOWNLOAD_DIR") ?? join(dataDir, "downloads")),
    agentInterval: parseCount("CRONTOPUS_AGENT_INTERVAL", readVar(env, "CRONTOPUS_AGENT_INTERVAL"), 30, 1),
    allowPrivateTargets,
    gitopsCaBundle,
    secretKeyPath: resolve(readVar(env, "CRONTOPUS_SECRET_KEY_PATH") ?? join(dataDir, "secret.key")),
    backupSchedule: parseBackupSchedule(readVar(env, "CRONTOPUS_BACKUP_SCHEDULE")),
    backupKeep: parseCount("CRONTOPUS_BACKUP_KEEP", readVar(env, "CRONTOPUS_BACKUP_KEEP"), 7, 1),
  });
}

function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A cron expression or `@every 6h` (the jobs' syntax); unset or `off`: no scheduled backups. */
function parseBackupSchedule(raw: string | undefined): Schedule | null {
  if (raw === undefined || raw.trim().toLowerCase() === "off") return null;
  try {
    return parseSchedule("CRONTOPUS_BACKUP_SCHEDULE", raw.trim(), "UTC");
  } catch (e) {
    throw new ConfigError(`CRONTOPUS_BACKUP_SCHEDULE: ${(e as Error).message.replace(/^CRONTOPUS_BACKUP_SCHEDULE:\s*/, "")}`);
  }
}

/** The host of an smtp(s):// URL (the URL parser leaves hosts of these schemes as written). */
export function smtpHost(smtpUrl: string): string {
  try {
    return new URL(smtpUrl).hostname.replace(/^\[|\]$/g, "");
  } catch {
    throw new ConfigError("CRONTOPUS_SMTP_URL: expected smtp://… or smtps://…");
  }
}

/** The effective configuration with secrets masked, for `crontopus config`. */
export function describeConfig(c: Config): Record<string, string | number> {
  const mask = (v: string | null) => (v ? "********" : "(unset)");
  return {
    CRONTOPUS_PORT: c.port,
    CRONTOPUS_HOST: c.host,
    CRONTOPUS_DATA_DIR: c.dataDir,
    CRONTOPUS_BASE_URL: c.baseUrl,
    CRONTOPUS_LOG_LEVEL: c.logLevel,
    CRONTOPUS_LOG_FORMAT: c.logFormat,
    CRONTOPUS_PING_BODY_LIMIT: c.pingBodyLimit,
    CRONTOPUS_MAX_BODY: c.maxBody,
    CRONTOPUS_SQLITE_SYNC: c.syncMode,
    CRONTOPUS_PING_RATE_LIMIT: c.pingRateLimit,
    CRONTOPUS_TICK_MS: c.tickMs,
    CRONTOPUS_TRUST_PROXY: String(c.trustProxy),
    CRONTOPUS_SMTP_URL: c.smtpUrl ? c.smtpUrl.replace(/\/\/[^@/]*@/, "//****@") : "(unset)",
    CRONTOPUS_SMTP_FROM: c.smtpFrom,
    CRONTOPUS_METRICS_TOKEN: mask(c.metricsToken),
    CRONTOPUS_DOWNLOAD_DIR: c.downloadDir,
    CRONTOPUS_AGENT_INTERVAL: c.agentInterval,
    CRONTOPUS_ALLOW_PRIVATE_TARGETS: String(c.allowPrivateTargets),
    CRONTOPUS_GITOPS_CA_BUNDLE: c.gitopsCaBundle ?? "(system)",
    CRONTOPUS_SECRET_KEY_PATH: c.secretKeyPath,
    CRONTOPUS_BACKUP_SCHEDULE: c.backupSchedule?.expr ?? "off",
    CRONTOPUS_BACKUP_KEEP: c.backupKeep,
  };
}
