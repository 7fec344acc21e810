// Members by invitation through a live server with a real SMTP relay: alice owns acme, val is a
// viewer there; bob has an account (he owns initech) and never joins acme; nobody has carol's
// address. Each test that has someone join has a person of its own (dan, erin, frank), and each
// reads the mails it causes, so the tests hold in any order.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "./helpers";
import { startSmtpServer, type SmtpServer } from "./smtp";

let s: TestServer;
let smtp: SmtpServer;
let alice: Persona, val: Persona, bob: Persona, dan: Persona;
const clock = new TestClock();

beforeAll(async () => {
  smtp = await startSmtpServer();
  s = await startTestServer({ CRONTOPUS_SMTP_URL: smtp.url, CRONTOPUS_SMTP_FROM: "crontopus@acme.test", CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  val = await persona(s.db, "val", "acme", "viewer");
  bob = await persona(s.db, "bob", "initech", "owner");
  dan = await persona(s.db, "dan", "hooli", "owner");
});
afterAll(async () => {
  await s.close();
  smtp.stop();
});

interface NewInvitation {
  id: string;
  email: string;
  role: string;
  expires_at: string;
  url: string;
}
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;
const invite = (path: "invitations" | "members", email: string, role = "member") =>
  s.api(`/api/v1/tenants/current/${path}`, { method: "POST", token: alice.token, json: { email, role } });
const tokenOf = (inv: NewInvitation) => inv.url.split("/").pop()!;
const accept = (inv: NewInvitation, init: RequestInit & { token?: string }) => s.api(`/api/v1/invitations/${tokenOf(inv)}/accept`, { method: "POST", ...init });

describe("inviting", () => {
  test("answers 201 with the link once, mails it, and lists the invitation without it", async () => {
    const r = await invite("invitations", "bob@example.com");
    expect(r.status).toBe(201);
    const inv = (await r.json()) as NewInvitation;
    expect(Object.keys(inv).sort()).toEqual(["email", "expires_at", "id", "role", "url"]);
    expect(inv).toMatchObject({ email: "bob@example.com", role: "member", expires_at: new Date(clock.now() + 7 * 86_400_000).toISOString() });
    expect(inv.url).toMatch(new RegExp(`^${s.url}/invitations/cti_[A-Za-z0-9_-]{43}$`));
    const mail = await smtp.next();
    expect(mail).toMatchObject({ to: ["bob@example.com"], subject: "You are invited to acme on Crontopus", event: "invitation" });
    expect(mail.body).toContain(inv.url);
    const list = await (await s.api("/api/v1/tenants/current/invitations", { token: alice.token })).text();
    expect(JSON.parse(list).invitations).toContainEqual({ id: inv.id, email: "bob@example.com", role: "member", created_at: expect.any(String), expires_at: inv.expires_at });
    expect(list).not.toContain(tokenOf(inv));
  });

  test("POST /members now invites: 202 and the same answer for an address with an account and one without", async () => {
    const known = await invite("members", "bob@example.com", "viewer");
    const unknown = await invite("members", "carol@example.com", "viewer");
    expect([known.status, unknown.status]).toEqual([202, 202]);
    const [a, b] = (await Promise.all([known.json(), unknown.json()])) as NewInvitation[];
    const same = ({ id: _i, email: _e, url: _u, ...rest }: NewInvitation) => rest;
    expect(same(a!)).toEqual(same(b!));
    expect(Object.keys(a!)).toEqual(Object.keys(b!));
    // Both mailed; the outbox sends them side by side, so in either order.
    const mailed = [(await smtp.next()).to, (await smtp.next()).to].flat().sort();
    expect(mailed).toEqual(["bob@example.com", "carol@example.com"]);
    const members = (await (await s.api("/api/v1/tenants/current/members", { token: alice.token })).json()) as { members: { email: string }[] };
    expect(members.members.map((m) => m.email)).not.toContain("bob@example.com");
  });

  test("POST /members no longer makes a user from a password", async () => {
    const r = await s.api("/api/v1/tenants/current/members", { method: "POST", token: alice.token, json: { email: "dora@example.com", role: "member", password: "dora-password" } });
    expect(r.status).toBe(422);
    expect((await errorOf(r)).message).toBe("password: is no longer taken: the invited person sets their own when accepting the invitation");
  });

  test("a viewer gets 403 on every invitation route", async () => {
    const inv = (await (await invite("invitations", "viewer-test@example.com")).json()) as NewInvitation;
    await smtp.next();
    const answers = [
      await s.api("/api/v1/tenants/current/invitations", { method: "POST", token: val.token, json: { email: "x@example.com", role: "viewer" } }),
      await s.api("/api/v1/tenants/current/members", { method: "POST", token: val.token, json: { email: "x@example.com", role: "viewer" } }),
      await s.api("/api/v1/tenants/current/invitations", { token: val.token }),
      await s.api(`/api/v1/tenants/current/invitations/${inv.id}`, { method: "DELETE", token: val.token }),
    ];
    expect(answers.map((r) => r.status)).toEqual([403, 403, 403, 403]);
  });
});

describe("accepting", () => {
  test("with the invited user's own token makes them a member, once", async () => {
    const inv = (await (await invite("invitations", "dan@example.com", "admin")).json()) as NewInvitation;
    await smtp.next();
    const r = await accept(inv, { token: dan.token });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ tenant: { slug: "acme", name: "acme" }, member: { user_id: dan.id, email: "dan@example.com", role: "admin" } });
    const again = await accept(inv, { token: dan.token });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).message).toBe("this invitation has already been used");
  });

  test("with a session works too; someone else's is refused", async () => {
    const { createUser } = await import("../src/auth/identity");
    await createUser(s.db, { email: "erin@example.com", password: PASSWORD, name: "Erin" });
    const inv = (await (await invite("invitations", "erin@example.com", "viewer")).json()) as NewInvitation;
    await smtp.next();
    expect((await accept(inv, { token: alice.token })).status).toBe(403);
    const login = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "erin@example.com", password: PASSWORD } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const r = await accept(inv, { headers: { cookie } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { member: { role: string } }).member.role).toBe("viewer");
  });

  test("a revoked or expired link is refused, saying which", async () => {
    const revoked = (await (await invite("invitations", "carol@example.com")).json()) as NewInvitation;
    const { createUser } = await import("../src/auth/identity");
    await createUser(s.db, { email: "frank@example.com", password: PASSWORD });
    const late = (await (await invite("invitations", "frank@example.com")).json()) as NewInvitation;
    await smtp.next();
    await smtp.next();
    expect((await s.api(`/api/v1/tenants/current/invitations/${revoked.id}`, { method: "DELETE", token: alice.token })).status).toBe(204);
    expect((await s.api(`/api/v1/tenants/current/invitations/${revoked.id}`, { method: "DELETE", token: alice.token })).status).toBe(404);
    const login = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "frank@example.com", password: PASSWORD } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    clock.advance(7 * 86_400_000);
    const r = await accept(late, { headers: { cookie } });
    expect(r.status).toBe(409);
    expect((await errorOf(r)).message).toBe("this invitation has expired; ask for a new one");
    const unknown = await s.api("/api/v1/invitations/cti_nope/accept", { method: "POST", token: bob.token });
    expect(unknown.status).toBe(404);
  });
});
