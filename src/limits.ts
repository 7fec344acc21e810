// The longest text each stored field may hold, in one place so the docs can list them
// (docs/api.md "Sizes", docs/job-manifest.md). Services check them and throw Invalid naming
// the field; request bodies as a whole are bounded by src/bodylimit.ts first.
import { Invalid } from "./errors";

export const LIMITS = {
  /** A job's command: it becomes one crontab line (cron itself stops near 1,000 bytes). */
  command: 4096,
  /** One argument, a working directory, an environment value. */
  arg: 4096,
  args: 256,
  workingDir: 4096,
  envValue: 4096,
  envEntries: 256,
  /** Label and selector values. */
  labelValue: 253,
  /** An annotation value: free text. */
  annotationValue: 4096,
  /** Labels, annotations or selector pairs on one object. */
  mapEntries: 64,
  schedule: 256,
  timezone: 64,
  channels: 64,
  /** Names shown to people: tenants, tokens, channels, enrollment tokens, users. */
  name: 200,
  email: 254,
  password: 1024,
  /** What an agent says about its host. */
  hostname: 253,
  shortText: 64,
  osVersion: 256,
  machineId: 256,
  /** An agent's per-job message, a discovered entry's text. */
  message: 4096,
  line: 8192,
  discovered: 10_000,
  reportedJobs: 10_000,
  /** A URL or other string in a channel's configuration. */
  configValue: 4096,
  /** Invitations waiting to be accepted in one tenant, and made in one tenant an hour (each may send a mail). */
  pendingInvitations: 100,
  invitationsPerHour: 50,
} as const;

/** `value`, if it is at most `max` characters; otherwise 422 naming `field`. */
export function checkLength<T extends string | null | undefined>(field: string, value: T, max: number): T {
  if (typeof value === "string" && value.length > max) throw new Invalid(field, `must be at most ${max} characters (got ${value.length})`);
  return value;
}

/** A list of at most `max` items; otherwise 422 naming `field`. */
export function checkCount<T>(field: string, list: readonly T[] | null | undefined, max: number): void {
  if (list && list.length > max) throw new Invalid(field, `must hold at most ${max} items (got ${list.length})`);
}
