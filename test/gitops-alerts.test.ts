// GitOps alerts and metrics through a live server, real bare repositories, a real webhook
// receiver and a real SMTP server. Each story has a tenant of its own: alice's acme breaks its
// repository and mends it, and hears of it once each way; charlie's globex, with channels and no
// repository, hears nothing of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manifest, TestRepo } from "./gitops-repo";
import { persona, startTestServer, TestClock, type Persona, type TestServer } from "./helpers";
import { renderGitopsMetrics } from "../src/metrics/metrics";
import { startReceiver, until, RECEIVER_ENV, type Received } from "./receiver";
import { startSmtpServer, type ReceivedMail, type SmtpServer } from "./smtp";

const METRICS_TOKEN = "operator-metrics-token-for-gitops-0123";
const clock = new TestClock();
let srv: TestServer;
let smtp: SmtpServer;
let receiver: ReturnType<typeof startReceiver>;
const mails: ReceivedMail[] = [];
const repos: TestRepo[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  receiver = startReceiver();
  // A clock that stands still: the scheduler syncs a repository once when it is connected, and
  // never again by itself, so each story drives its syncs (and waits for that first one).
  srv = await startTestServer(
    { ...RECEIVER_ENV, CRONTOPUS_SMTP_URL: smtp.url, CRONTOPUS_SMTP_FROM: "crontopus@example.com", CRONTOPUS_METRICS_TOKEN: METRICS_TOKEN },
    { clock },
  );
  // Every mail, in arrival order, for the stories to pick theirs from.
  void (async () => {
    for (;;) mails.push(await smtp.next());
  })().catch(() => {});
});
afterAll(async () => {
  await srv.close();
  receiver.stop();
  smtp.stop();
  for (const r of repos) r.close();
});

interface Tenant {
  slug: string;
  owner: Persona;
  repo: TestRepo;
  call(path: string, init?: { method?: string; json?: unknown }): Promise<{ status: number; body: any }>;
  sync(): Promise<any>;
  /** What the tenant's webhook channel received. */
  hooks(): Received[];
  /** What the tenant's email channel received. */
  mail(): ReceivedMail[];
  /** The notifications queued for the tenant's webhook channel, oldest first (queued in the sync's own transaction). */
  deliveries(): Promise<{ event: string; status: string }[]>;
  /** Connects the repository and waits for the scheduler's first sync of it. */
  connect(settings?: object): Promise<any>;
}

/** A tenant with a webhook and an email channel and, unless told otherwise, a repository connected. */
async function tenant(slug: string, opts: { connect?: boolean } = {}): Promise<Tenant> {
  const owner = await persona(srv.db, `${slug}-owner`, slug, "owner");
  const repo = new TestRepo();
  repos.push(repo);
  const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await srv.api(path, { ...init, token: owner.token });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const hook = await call("/api/v1/channels", { method: "POST", json: { name: "hook", type: "webhook", config: { url: `${receiver.url}/${slug}` } } });
  expect(hook.status).toBe(201);
  expect((await call("/api/v1/channels", { method: "POST", json: { name: "mail", type: "email", config: { to: [`ops@${slug}.test`] } } })).status).toBe(201);
  const connect = async (settings: object = {}) => {
    expect((await call("/api/v1/gitops", { method: "PUT", json: { url: repo.url, ...settings } })).status).toBe(200);
    return until(async () => {
      const status = (await call("/api/v1/gitops/status")).body;
      return status.last_sync_at && status.state !== "syncing" ? status : null;
    }, 60_000);
  };
  if (opts.connect !== false) {
    repo.commit("first jobs", { "production/backup.yaml": manifest("backup"), "staging/report.yaml": manifest("report") });
    expect((await connect()).state).toBe("ok");
  }
  return {
    connect,
    slug,
    owner,
    repo,
    call,
    async sync() {
      const r = await call("/api/v1/gitops/sync", { method: "POST" });
      expect(r.status).toBe(200);
      return r.body;
    },
    hooks: () => receiver.received.filter((r) => r.path === `/${slug}`),
    mail: () => mails.filter((m) => m.to.includes(`ops@${slug}.test`)),
    async deliveries() {
      const r = await call(`/api/v1/channels/${hook.body.id}/deliveries`);
      return (r.body.deliveries as { event: string; status: string }[]).reverse();
    },
  };
}

const BROKEN = "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: report\nspec:\n  schedule: \"every tuesday\"\n";

describe("GitOps alerts", () => {
  test("a bad commit alerts once by webhook and email, with its errors and the GitOps page; more bad syncs do not; a good commit alerts the recovery once", async () => {
    const acme = await tenant("acme");
    const charlie = await tenant("globex", { connect: false });
    expect((await acme.sync()).state).toBe("ok");
    // A first sync that goes well is no news.
    expect(await acme.deliveries()).toEqual([]);

    const bad = acme.repo.commit("break the report", { "staging/report.yaml": BROKEN });
    expect((await acme.sync()).state).toBe("degraded");
    expect((await acme.deliveries()).map((d) => d.event)).toEqual(["trigger"]);
    const [hook] = await until(() => (acme.hooks().length ? acme.hooks() : null), 30_000);
    expect(hook!.headers.get("x-crontopus-event")).toBe("trigger");
    expect(hook!.json).toMatchObject({
      event: "trigger",
      job: null,
      status: "degraded",
      previous_status: "ok",
      reason: `1 file error in commit ${bad.slice(0, 12)}; the rest was applied`,
      summary: `GitOps sync of acme is DEGRADED: 1 file error in commit ${bad.slice(0, 12)}; the rest was applied`,
      gitops: { repository: acme.repo.url, branch: "main", commit: bad, errors_total: 1, url: `${srv.url}/settings/gitops` },
    });
    expect(hook!.json.gitops.errors).toEqual([{ path: "staging/report.yaml", line: 6, column: 3, message: expect.stringMatching(/^spec\.schedule:/) }]);
    const [mail] = await until(() => (acme.mail().length ? acme.mail() : null), 30_000);
    expect(mail!.subject).toBe(hook!.json.summary);
    expect(mail!.event).toBe("trigger");
    expect(mail!.body).toContain("Errors:\r\n  staging/report.yaml:6:3 spec.schedule:");
    expect(mail!.body).toContain(`Open in Crontopus: ${srv.url}/settings/gitops`);

    // Another broken commit, then a force push to an empty tree (failing): nothing new is queued.
    acme.repo.commit("break the backup too", { "production/backup.yaml": BROKEN.replace("report", "backup") });
    expect((await acme.sync()).state).toBe("degraded");
    acme.repo.forcePushOrphan("empty", {});
    expect((await acme.sync()).state).toBe("failing");
    expect((await acme.deliveries()).map((d) => d.event)).toEqual(["trigger"]);

    const good = acme.repo.commit("mend", { "production/backup.yaml": manifest("backup"), "staging/report.yaml": manifest("report", "@hourly") });
    expect((await acme.sync()).state).toBe("ok");
    expect((await acme.deliveries()).map((d) => d.event)).toEqual(["trigger", "resolve"]);
    const recovery = (await until(() => (acme.hooks().length === 2 ? acme.hooks() : null), 30_000))[1]!;
    expect(recovery.json).toMatchObject({
      event: "resolve",
      status: "ok",
      previous_status: "failing",
      summary: `GitOps sync of acme is OK again: commit ${good.slice(0, 12)} synced`,
      dedup_key: hook!.json.dedup_key,
      gitops: { commit: good, last_good_commit: good, errors: [], errors_total: 0 },
    });
    const back = (await until(() => (acme.mail().length === 2 ? acme.mail() : null), 30_000))[1]!;
    expect([back.event, back.subject]).toEqual(["resolve", recovery.json.summary]);

    // A good sync after the recovery says nothing; the next breakage is a new alert.
    acme.repo.commit("still fine", { "staging/extra.yaml": manifest("extra") });
    expect((await acme.sync()).state).toBe("ok");
    acme.repo.commit("break again", { "staging/extra.yaml": BROKEN.replace("report", "extra") });
    expect((await acme.sync()).state).toBe("degraded");
    expect((await acme.deliveries()).map((d) => d.event)).toEqual(["trigger", "resolve", "trigger"]);
    await until(() => acme.hooks().length === 3, 30_000);
    expect(acme.hooks().map((h) => h.json.event)).toEqual(["trigger", "resolve", "trigger"]);

    // globex has channels of its own and no repository: none of this reached it.
    expect(await charlie.deliveries()).toEqual([]);
    expect(charlie.hooks()).toEqual([]);
    expect(charlie.mail()).toEqual([]);
  });

  test("a first sync that fails outright alerts failing, with the reason and no file errors", async () => {
    const initech = await tenant("initech", { connect: false });
    initech.repo.commit("jobs", { "a.yaml": manifest("a") });
    // The scheduler's first sync of a new repository, straight after it is connected.
    expect((await initech.connect({ branch: "no-such-branch" })).state).toBe("failing");
    const [hook] = await until(() => (initech.hooks().length ? initech.hooks() : null), 30_000);
    expect(hook!.json).toMatchObject({ event: "trigger", status: "failing", previous_status: "never", gitops: { commit: null, errors: [], errors_total: 0 } });
    expect(hook!.json.reason).toContain("no-such-branch");
    expect(hook!.json.summary).toStartWith("GitOps sync of initech is FAILING: ");
    // Failing again, and then degraded, is the same spell of trouble.
    expect((await initech.sync()).state).toBe("failing");
    initech.repo.commit("half broken", { "b.yaml": BROKEN });
    expect((await initech.call("/api/v1/gitops", { method: "PUT", json: { url: initech.repo.url, branch: "main" } })).status).toBe(200);
    expect((await initech.sync()).state).toBe("degraded");
    expect((await initech.deliveries()).map((d) => d.event)).toEqual(["trigger"]);
  });
});

describe("GitOps metrics", () => {
  const series = (body: string, name: string) => body.split("\n").filter((l) => l.startsWith(`${name}{`));

  test("the tenant view has its own sync's state, last success, last sync and failure count; another tenant's has none of it", async () => {
    const umbrella = await tenant("umbrella");
    const other = await tenant("hooli", { connect: false });
    const scrape = async (who: Tenant) => (await srv.api("/metrics", { token: who.owner.token })).text();

    // The times, back in epoch milliseconds.
    const ms = (b: string, name: string) => Math.round(Number(series(b, name)[0]!.split(" ")[1]) * 1000);
    let body = await scrape(umbrella);
    expect(series(body, "crontopus_gitops_state")).toEqual([`crontopus_gitops_state{tenant="umbrella",state="ok"} 1`]);
    expect(series(body, "crontopus_gitops_sync_failures_total")).toEqual([`crontopus_gitops_sync_failures_total{tenant="umbrella"} 0`]);
    const first = ms(body, "crontopus_gitops_last_success_timestamp_seconds");
    expect(first).toBe(clock.now());

    // An unchanged head is not applied again (no history row), and is a success still.
    const synced = clock.advance(1000);
    expect((await umbrella.sync()).state).toBe("ok");
    expect((await umbrella.call("/api/v1/gitops/syncs")).body.syncs).toHaveLength(1);
    body = await scrape(umbrella);
    expect(ms(body, "crontopus_gitops_last_success_timestamp_seconds")).toBe(synced);
    expect(ms(body, "crontopus_gitops_last_sync_timestamp_seconds")).toBe(synced);

    // Two failing syncs: counted, the last sync time moves, the last success stays.
    umbrella.repo.forcePushOrphan("empty", {});
    const failed = clock.advance(1000);
    expect((await umbrella.sync()).state).toBe("failing");
    expect((await umbrella.sync()).state).toBe("failing");
    body = await scrape(umbrella);
    expect(series(body, "crontopus_gitops_state")).toEqual([`crontopus_gitops_state{tenant="umbrella",state="failing"} 1`]);
    expect(ms(body, "crontopus_gitops_last_success_timestamp_seconds")).toBe(synced);
    expect(ms(body, "crontopus_gitops_last_sync_timestamp_seconds")).toBe(failed);
    expect(series(body, "crontopus_gitops_sync_failures_total")).toEqual([`crontopus_gitops_sync_failures_total{tenant="umbrella"} 2`]);
    expect(body).toContain("# TYPE crontopus_gitops_sync_failures_total counter");

    // A tenant without a repository has no GitOps series, and none of umbrella's.
    const otherBody = await scrape(other);
    expect(otherBody).not.toContain("crontopus_gitops_");
    expect(otherBody).not.toContain("umbrella");

    // The operator view counts repositories by state and names no tenant.
    const operator = await (await srv.api("/metrics", { token: METRICS_TOKEN })).text();
    const failing = Number(operator.split("\n").find((l) => l.startsWith(`crontopus_gitops_repositories{state="failing"}`))!.split(" ")[1]);
    expect(failing).toBeGreaterThanOrEqual(1);
    expect(series(operator, "crontopus_gitops_repositories").map((l) => l.split(" ")[0])).toEqual(
      ["never", "ok", "degraded", "failing"].map((s) => `crontopus_gitops_repositories{state="${s}"}`),
    );
    expect(operator).not.toContain("umbrella");
  });

  test("a repository connected and not synced yet is never, with no times; none connected, no series", () => {
    const text = renderGitopsMetrics({ tenant: "acme", state: "never", last_success_at: null, last_sync_at: null, failures_total: 0 });
    expect(series(text, "crontopus_gitops_state")).toEqual([`crontopus_gitops_state{tenant="acme",state="never"} 1`]);
    expect(series(text, "crontopus_gitops_last_success_timestamp_seconds")).toEqual([]);
    expect(series(text, "crontopus_gitops_last_sync_timestamp_seconds")).toEqual([]);
    expect(series(text, "crontopus_gitops_sync_failures_total")).toEqual([`crontopus_gitops_sync_failures_total{tenant="acme"} 0`]);
    expect(renderGitopsMetrics(null)).toBe("");
  });
});
