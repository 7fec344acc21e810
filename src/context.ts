import type { Config } from "./config";
import type { Db } from "./db";
import type { Logger } from "./log";
import type { Sessions } from "./auth/sessions";
import type { LoginThrottle } from "./auth/login";
import type { FirstRun } from "./auth/setup";
import type { CheckinWriter } from "./checkins/writer";
import type { Engine } from "./monitor/engine";
import type { SecretBox } from "./secrets";
import type { StorageStatus } from "./storage";
import type { EventHub } from "./events/hub";
import type { RequestLog } from "./requestlog";
import type { GitopsSyncer } from "./gitops/sync";

/** What every surface closes over. Built once by createApp; no globals. */
export interface AppContext {
  db: Db;
  config: Config;
  log: Logger;
  sessions: Sessions;
  /** Login attempts per address and account, shared by every surface that logs people in. */
  loginThrottle: LoginThrottle;
  /** The first-run setup link's token, while the server has no user (`serve` prints the link). */
  firstRun: FirstRun;
  /** Encrypts secrets at rest with the key file (CRONTOPUS_SECRET_KEY_PATH), read on first use. */
  secrets: SecretBox;
  /** The check-in log's writer (group commit). */
  checkins: CheckinWriter;
  /** The monitoring engine: applies each committed check-in before it is answered; ticks once serve starts it. */
  engine: Engine;
  /** The live event streams of every tenant (GET /api/v1/events); see src/events/hub.ts. */
  events: EventHub;
  /** Whether the database takes writes (degraded after a storage fault); /health reports it. */
  storage: StorageStatus;
  /** The request log: a line per request, pings and probes summarised (serve stops it). */
  requests: RequestLog;
  /** GitOps syncs: one at a time per tenant (src/gitops/sync.ts). */
  gitops: GitopsSyncer;
  /** The clock; tests pass their own. */
  now: () => number;
  /** Tells the notification dispatcher that rows were queued outside the engine (set by serve). */
  kick: () => void;
  /** Tells retention that a tenant's retention changed: a pass starts soon (set by serve). */
  pruneSoon: () => void;
}
