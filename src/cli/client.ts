// The one HTTP client behind the CLI's remote commands: where the server is, which token to send,
// and how an answer from the REST API becomes output or a one-line error.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError, UsageError } from "./run";
export { command as clientCommand, repeated } from "./args";

export const clientArgs = {
  server: { type: "string", description: "Server URL, e.g. https://cron.example.com; http:// is assumed without a scheme (CRONTOPUS_URL, else the config file)", valueHint: "URL" },
  token: { type: "string", description: "API token, ctp_… (CRONTOPUS_TOKEN, else the config file: prefer those, a flag shows in ps)", valueHint: "TOKEN" },
  json: { type: "boolean", description: "Print JSON (the API's shape) instead of a table" },
} as const;

export interface ClientConfig {
  server?: string;
  token?: string;
}

/** An answer from the server that is not a success; `status` is its HTTP status. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message, 1);
  }
}

const env = (name: string) => process.env[name] || undefined;

export function configPath(): string {
  const base = env("XDG_CONFIG_HOME") ?? join(homedir(), ".config");
  return env("CRONTOPUS_CONFIG") ?? join(base, "crontopus", "config.json");
}

export function readConfigFile(): ClientConfig {
  const path = configPath();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as ClientConfig;
  } catch {}
  throw new CliError(`${path}: not a JSON object; fix or delete it`);
}

/** Writes the config file readable by its owner only: it holds a token. */
export function writeConfigFile(config: ClientConfig): string {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  // The mode given to writeFileSync only applies to a new file, and a stale temp file could exist.
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

/** Checks and normalises a server URL: an http(s) origin plus optional path, without a trailing slash. */
export function normaliseServer(raw: string, source: string, exitCode = 1): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`${source}: not a URL: ${raw}`, exitCode);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`${source}: expected an http(s) URL, got ${raw}`, exitCode);
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

export interface RequestOptions {
  /** A value sent as JSON. */
  json?: unknown;
  /** A body sent as is, with `contentType`. */
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Leave the token out (login sends a cookie instead). */
  anonymous?: boolean;
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  data: T;
}

export interface Client {
  server: string;
  token: string | null;
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  send<T = any>(method: string, path: string, opts?: RequestOptions): Promise<Answer<T>>;
}

/**
 * Resolves the server and token from flags, then CRONTOPUS_URL/CRONTOPUS_TOKEN, then the config
 * file, and returns a client for them. Without `needToken` a missing token is not an error.
 */
export function connect(args: { server?: string; token?: string }, { needToken = true } = {}): Client {
  const file = args.server && args.token ? {} : readConfigFile();
  let server: string;
  if (args.server) server = normaliseServer(args.server, "--server", 2);
  else if (env("CRONTOPUS_URL")) server = normaliseServer(env("CRONTOPUS_URL")!, "CRONTOPUS_URL");
  else if (file.server) server = normaliseServer(file.server, configPath());
  else throw new CliError("no server: pass --server, set CRONTOPUS_URL or run 'crontopus auth login'");
  const token = args.token || env("CRONTOPUS_TOKEN") || file.token || null;
  if (needToken && !token) {
    throw new CliError(`not logged in to ${server}: run 'crontopus auth login', pass --token or set CRONTOPUS_TOKEN`);
  }
  return clientFor(server, token);
}

export function clientFor(server: string, token: string | null): Client {
  const send = async <T>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> => {
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (token && !opts.anonymous) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/octet-stream";
      body = opts.body;
    }
    let res: Response;
    try {
      res = await fetch(server + path, { method, headers, body, redirect: "manual" });
    } catch {
      throw new CliError(`cannot reach the Crontopus server at ${server}`);
    }
    const text = await res.text();
    let data: any = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!res.ok) throw apiError(res, data, token !== null && !opts.anonymous);
    if (data === undefined) throw new CliError(`${server} answered ${method} ${path} with something other than JSON; is it a Crontopus server?`);
    return { status: res.status, headers: res.headers, data: data as T };
  };
  return {
    server,
    token,
    send,
    request: async <T>(method: string, path: string, opts?: RequestOptions) => (await send<T>(method, path, opts)).data,
  };
}

function apiError(res: Response, data: any, sentToken: boolean): ApiError {
  const e = data?.error;
  if (!e || typeof e.message !== "string") {
    return new ApiError(`the server answered ${res.status} ${res.statusText}`.trim(), res.status, "http_error");
  }
  let message: string = e.message;
  if (res.status === 401 && sentToken) message += "; run 'crontopus auth login' for a new token";
  return new ApiError(message, res.status, e.code ?? "error");
}

/** `ns/name` or `name` (namespace "default"), for the URL path. */
export function parseJobRef(ref: string): { namespace: string; name: string; path: string } {
  const parts = ref.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) throw new UsageError(`expected NAMESPACE/NAME or NAME, got "${ref}"`);
  const [namespace, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : ["default", parts[0]!];
  return { namespace, name, path: `/api/v1/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}` };
}

