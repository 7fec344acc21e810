// The alert message: built once when a notification is queued, rendered by each channel type.

/** trigger/resolve open and close an incident; renotify reminds; drift reports a hand edit an agent undid; test checks a channel. */
export type AlertEvent = "trigger" | "resolve" | "renotify" | "drift" | "test";

export interface AlertMessage {
  event: AlertEvent;
  tenant: { slug: string; name: string };
  /** null for messages about no particular job (channel tests). */
  job: { id: string; namespace: string; name: string; /** console link: <base>/jobs/<ns>/<name> */ url: string } | null;
  /** The agent the message is about (an agent offline or back online), or where a drift was found. */
  agent?: { id: string; name: string; hostname: string; url: string };
  /** The tenant's GitOps sync, when the message is about it (its state left ok, or came back). */
  gitops?: GitopsAlert;
  status: string;
  previous_status: string | null;
  reason: string;
  /** ISO 8601: when the job entered `status`. */
  since: string;
  /** The last lines of the run's output, already trimmed by tailOutput. */
  last_output: string | null;
  /** Stable per job (e.g. "crontopus-<job id>"), so a receiver's resolve closes its trigger. */
  dedup_key: string;
}

/** What a GitOps alert says of the sync: which repository and commit, and the first file errors. */
export interface GitopsAlert {
  repository: string;
  branch: string;
  /** The commit the sync read (null when even the fetch failed before any). */
  commit: string | null;
  last_good_commit: string | null;
  /** The first GITOPS_ERRORS_MAX file errors of the sync; errors_total counts them all. */
  errors: { path: string; line: number; column: number; message: string }[];
  errors_total: number;
  /** The console's GitOps page: <base>/settings/gitops */
  url: string;
}

/** File errors a GitOps alert carries; the console's page has them all. */
export const GITOPS_ERRORS_MAX = 5;

export const OUTPUT_MAX_LINES = 20;
export const OUTPUT_MAX_BYTES = 2048;

/** The last ≤ 20 lines and ≤ 2 KB of a run's output; null when there is none. */
export function tailOutput(output: string | null | undefined): string | null {
  if (!output) return null;
  let tail = output.replace(/\s+$/, "").split(/\r?\n/).slice(-OUTPUT_MAX_LINES).join("\n");
  const bytes = Buffer.from(tail, "utf8");
  if (bytes.length > OUTPUT_MAX_BYTES) {
    // Cut at the byte limit from the end, then drop a partly cut first character or line.
    tail = bytes.subarray(bytes.length - OUTPUT_MAX_BYTES).toString("utf8").replace(/^\uFFFD+/, "");
    const nl = tail.indexOf("\n");
    if (nl >= 0 && nl < tail.length - 1) tail = tail.slice(nl + 1);
  }
  return tail || null;
}

export function jobConsoleUrl(baseUrl: string, namespace: string, name: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

export function jobRef(m: AlertMessage): string {
  if (m.job) return `${m.job.namespace}/${m.job.name}`;
  if (m.gitops) return `GitOps sync of ${m.tenant.slug}`;
  return m.agent ? `agent ${m.agent.name}` : m.tenant.slug;
}

/** Where the message points in the console: the job, the agent or the GitOps page; null for tests. */
export function linkOf(m: AlertMessage): string | null {
  return m.job?.url ?? m.agent?.url ?? m.gitops?.url ?? null;
}

/** A GitOps alert's file errors, one `path:line:column message` line each, and how many more there were. */
export function gitopsErrorLines(m: AlertMessage): string[] {
  if (!m.gitops) return [];
  const lines = m.gitops.errors.map((e) => `${e.path}:${e.line}:${e.column} ${e.message}`);
  const more = m.gitops.errors_total - m.gitops.errors.length;
  if (more > 0) lines.push(`… and ${more} more`);
  return lines;
}

/** One line, fit for a mail subject, a chat message or a PagerDuty incident title. */
export function summary(m: AlertMessage): string {
  const status = m.status.toUpperCase();
  switch (m.event) {
    case "test":
      return `Test notification from Crontopus (${m.tenant.name})`;
    case "trigger":
      return `${jobRef(m)} is ${status}: ${m.reason}`;
    case "renotify":
      return `${jobRef(m)} is still ${status} (since ${shortTime(m.since)}): ${m.reason}`;
    case "resolve":
      return `${jobRef(m)} is ${status} again: ${m.reason}`;
    case "drift":
      return `${jobRef(m)}: managed entry changed by hand ${m.reason}`;
  }
}

/** The plain-text body: which job, what happened, since when, its last output, where to look. */
export function text(m: AlertMessage): string {
  const lines = [summary(m), ""];
  if (m.job) lines.push(`Job:      ${m.job.namespace}/${m.job.name}`);
  if (m.agent) lines.push(`Agent:    ${m.agent.name} (${m.agent.hostname})`);
  if (m.gitops) lines.push(`Repo:     ${m.gitops.repository} (${m.gitops.branch})`, `Commit:   ${m.gitops.commit ?? "-"}`);
  lines.push(`Tenant:   ${m.tenant.name}${m.tenant.name !== m.tenant.slug ? ` (${m.tenant.slug})` : ""}`);
  if (m.event !== "test" && m.event !== "drift") {
    lines.push(`Status:   ${m.status}${m.previous_status ? ` (was ${m.previous_status})` : ""}`);
    lines.push(`Since:    ${longTime(m.since)}`);
  }
  lines.push(`Reason:   ${m.reason}`);
  if (m.last_output) lines.push("", "Last output:", ...m.last_output.split("\n").map((l) => `  ${l}`));
  const errors = gitopsErrorLines(m);
  if (errors.length) lines.push("", "Errors:", ...errors.map((l) => `  ${l}`));
  const link = linkOf(m);
  if (link) lines.push("", `Open in Crontopus: ${link}`);
  return lines.join("\n");
}

/** What a channel test sends: no job, plainly labelled as a test. */
export function testMessage(tenant: { slug: string; name: string }, now = Date.now()): AlertMessage {
  return {
    event: "test",
    tenant: { slug: tenant.slug, name: tenant.name },
    job: null,
    status: "test",
    previous_status: null,
    reason: "This is a test notification. If you can read it, the channel works.",
    since: new Date(now).toISOString(),
    last_output: null,
    dedup_key: `crontopus-test-${tenant.slug}`,
  };
}

/** "Nov 3 02:10 UTC": short enough for a summary line. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleString("en-US", { month: "short", day: "numeric", timeZone: "UTC" })} ${d.toISOString().slice(11, 16)} UTC`;
}

function longTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
