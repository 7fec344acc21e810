// Members and invitations in the console, over HTTP. Alice owns acme, dave is an admin there, mia a
// member and val a viewer. Bob has an account (he owns initech) and never joins acme; nobody has
// carol's address. Gina owns globex, whose invitations acme must never touch. Each test in which
// someone joins or leaves has people of its own, and each makes the invitations it uses, so the
// tests hold in any order (the clock only moves forward).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { findUserByEmail, hashPassword, insertUser, verifyLogin } from "../../src/auth/identity";
import { addMember, findMembership, listMembers } from "../../src/tenants/members";
import { createInvitation, describeInvitation, INVITATION_TTL_MS, listInvitations } from "../../src/tenants/invitations";
import { findTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { LIMITS } from "../../src/limits";
import { PASSWORD, persona, sessionCaller, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { FormClient } from "./client";

let s: TestServer;
const clock = new TestClock();
let alice: Persona, dave: Persona, mia: Persona, val: Persona, gina: Persona;
let acme = "";
let globex = "";
const as: Record<string, FormClient> = {};

beforeAll(async () => {
  s = await startTestServer({}, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  dave = await persona(s.db, "dave", "acme", "admin");
  mia = await persona(s.db, "mia", "acme", "member");
  val = await persona(s.db, "val", "acme", "viewer");
  await persona(s.db, "bob", "initech", "owner");
  gina = await persona(s.db, "gina", "globex", "owner");
  acme = findTenant(s.db, "acme")!.id;
  globex = findTenant(s.db, "globex")!.id;
  updateTenantSettings(s.db, acme, { name: "Acme" });
  for (const name of ["alice", "dave", "mia", "val", "bob", "gina"]) {
    as[name] = new FormClient(s.url);
    await as[name]!.login(`${name}@example.com`, PASSWORD);
  }
});
afterAll(() => s.close());

const MEMBERS = "/settings/members";

/** Invites through the form as `who`; the answer, and the link it shows (if any). */
async function invite(who: FormClient, email: string, role = "member") {
  await who.get(MEMBERS);
  const { r, html } = await who.post(MEMBERS, { email, role });
  const url = /<code id="invite-url"[^>]*>([^<]+)<\/code>/.exec(html)?.[1] ?? null;
  return { r, html, url, path: url ? new URL(url).pathname : "", token: url?.split("/").pop() ?? "" };
}

/** The part of a page between an element with this id and the end of its section. */
const section = (html: string, id: string) => {
  const start = html.indexOf(`id="${id}"`);
  return start < 0 ? "" : html.slice(start, html.indexOf("</section>", start));
};
/** A page without its CSRF tokens and asset hashes, to compare two answers. */
const bare = (html: string) => html.replace(/value="[A-Za-z0-9_-]{43}"/g, 'value="CSRF"').replace(/content="[A-Za-z0-9_-]{43}"/g, 'content="CSRF"');
const flashOf = (html: string) => /<div class="flash flash-\w+" role="\w+">([^<]*)<\/div>/.exec(html)?.[1] ?? null;
/** Where a page's forms and their buttons post. */
const actions = (html: string) => [...html.matchAll(/<(?:form[^>]*\saction|button[^>]*\sformaction)="([^"]+)"/g)].map((m) => m[1]!);
/** The addresses of the pending invitations' rows, in order. */
const pendingRows = (html: string) => {
  const table = html.slice(html.indexOf('<table class="data-table invitations">')).split("</table>")[0]!;
  return html.includes('<table class="data-table invitations">') ? [...table.matchAll(/<tr><td>([^<]+)<\/td>/g)].map((m) => m[1]!) : [];
};
const memberRows = (html: string) => [...html.matchAll(/<tr data-member="([^"]+)">/g)].map((m) => m[1]!);
const userId = (email: string) => findUserByEmail(s.db, email)!.id;

describe("inviting", () => {
  test("shows the one-time link once, with a copy button, and lists the invitation without it", async () => {
    const { r, html, url, token } = await invite(as.alice!, "carol@example.com", "member");
    expect(r.status).toBe(200);
    expect(url).toMatch(new RegExp(`^${s.url}/invitations/cti_[A-Za-z0-9_-]{43}$`));
    const answer = section(html, "invited");
    expect(answer).toContain("Invitation for carol@example.com");
    expect(answer).toContain('<button type="button" class="button-quiet button-small copy" data-copy="#invite-url" hidden>Copy</button>');
    expect(answer).toContain(`<time datetime="${new Date(clock.now() + INVITATION_TTL_MS).toISOString()}"`);
    // No SMTP on this server: the page says so instead of claiming a mail.
    expect(answer).toContain("This server sends no mail (CRONTOPUS_SMTP_URL is not set): hand the link over yourself.");
    // The form is empty again; the pending list has the invitation, with its role and expiry.
    expect(html).toContain('<input id="email" name="email" type="email" value="" autocomplete="off" required/>');
    const again = await as.alice!.get(MEMBERS);
    expect(again.html).not.toContain(token);
    expect(again.html).not.toContain('id="invited"');
    expect(pendingRows(again.html)).toContain("carol@example.com");
    const row = again.html.slice(again.html.indexOf("<tr><td>carol@example.com</td>"));
    expect(row.slice(0, row.indexOf("</tr>"))).toContain(`<span data-role="member">member</span></td><td><time datetime="${new Date(clock.now() + INVITATION_TTL_MS).toISOString()}"`);
  });

  test("answers the same for an address with an account and one without", async () => {
    const known = await invite(as.alice!, "bob@example.com", "viewer");
    const unknown = await invite(as.alice!, "nobody-yet@example.com", "viewer");
    expect([known.r.status, unknown.r.status]).toEqual([200, 200]);
    const shape = (a: typeof known, email: string) => section(a.html, "invited").replaceAll(email, "EMAIL").replace(a.url!, "URL");
    expect(shape(known, "bob@example.com")).toEqual(shape(unknown, "nobody-yet@example.com"));
    expect(shape(known, "bob@example.com")).toContain("URL");
    expect(Object.keys(known.r.headers.toJSON()).sort()).toEqual(Object.keys(unknown.r.headers.toJSON()).sort());
    // Nobody joined: bob is still no member of acme.
    expect(findMembership(s.db, acme, userId("bob@example.com"))).toBeNull();
  });

  test("lists the pending invitations, newest first; viewers and members see none of them", async () => {
    await invite(as.alice!, "first@example.com");
    clock.advance(1000);
    await invite(as.dave!, "second@example.com", "viewer");
    const rows = pendingRows((await as.alice!.get(MEMBERS)).html);
    expect(rows.indexOf("second@example.com")).toBeLessThan(rows.indexOf("first@example.com"));
    for (const who of ["mia", "val"]) {
      const { html } = await as[who]!.get(MEMBERS);
      expect(`${who}: ${pendingRows(html).length} ${html.includes("Pending invitations")}`).toBe(`${who}: 0 false`);
    }
  });

  test("a wrong address or role stands next to its field; a member's address too", async () => {
    const bad = await invite(as.alice!, "not-an-address", "member");
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain('<input id="email" name="email" type="email" value="not-an-address" autocomplete="off" required aria-invalid="true" aria-describedby="email-error"/>');
    expect(bad.html).toContain('<span class="field-error" id="email-error">Is not an email address.</span>');
    expect(bad.url).toBeNull();
    const role = await invite(as.alice!, "ok@example.com", "boss");
    expect(role.r.status).toBe(422);
    expect(role.html).toContain('<span class="field-error" id="role-error">Must be one of owner, admin, member, viewer.</span>');
    const member = await invite(as.alice!, "Mia@Example.com", "admin");
    expect(member.r.status).toBe(409);
    expect(member.html).toContain('<span class="field-error" id="email-error">mia@example.com is a member already.</span>');
  });

  test("too many invitations in an hour is a clear message, with Retry-After", async () => {
    await persona(s.db, "hank", "hooli", "owner");
    const hank = new FormClient(s.url);
    await hank.login("hank@example.com", PASSWORD);
    const caller = await sessionCaller(s.db, userId("hank@example.com"), findTenant(s.db, "hooli")!.id);
    for (let i = 0; i < LIMITS.invitationsPerHour; i++) createInvitation(s.db, caller, { email: `hire${i}@example.com`, role: "viewer" }, clock.now());
    const { r, html, url } = await invite(hank, "one-more@example.com");
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(3000);
    expect(html).toContain(`<div class="flash flash-error" role="alert">Too many invitations: at most ${LIMITS.invitationsPerHour} an hour. Try again in 60 minutes.</div>`);
    expect(html).toContain('value="one-more@example.com"');
    expect(url).toBeNull();
  });
});

describe("pending invitations", () => {
  test("revoking one makes its link a dead one, the same page as a link that never was", async () => {
    const { path } = await invite(as.alice!, "revoke-me@example.com");
    expect((await new FormClient(s.url).get(path)).r.status).toBe(200);
    const id = listInvitations(s.db, await sessionCaller(s.db, alice.id, acme), clock.now()).find((i) => i.email === "revoke-me@example.com")!.id;
    const page = await as.alice!.get(MEMBERS);
    expect(actions(page.html)).toContain(`/settings/members/invitations/${id}/revoke`);
    expect(page.html).toContain(`formaction="/settings/members/invitations/${id}/revoke" data-confirm="Revoke this invitation? Its link stops working.">Revoke<span class="visually-hidden"> revoke-me@example.com</span></button>`);
    const { r } = await as.alice!.post(`/settings/members/invitations/${id}/revoke`, {});
    expect([r.status, r.headers.get("location")]).toEqual([303, MEMBERS]);
    const after = await as.alice!.get(MEMBERS);
    expect(flashOf(after.html)).toBe("Revoked the invitation of revoke-me@example.com: its link no longer works.");
    expect(pendingRows(after.html)).not.toContain("revoke-me@example.com");
    const dead = await new FormClient(s.url).get(path);
    const never = await new FormClient(s.url).get("/invitations/cti_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect([dead.r.status, never.r.status]).toEqual([404, 404]);
    expect(dead.html).toContain("This invitation link does not work");
    expect(bare(dead.html)).toBe(bare(never.html));
  });

  test("another tenant's invitation or member is a 404, and stays as it was", async () => {
    const ginas = createInvitation(s.db, await sessionCaller(s.db, gina.id, globex), { email: "globex-hire@example.com", role: "member" }, clock.now());
    await as.alice!.get(MEMBERS);
    const revoke = await as.alice!.post(`/settings/members/invitations/${ginas.id}/revoke`, {});
    expect(revoke.r.status).toBe(404);
    expect(revoke.html).toContain("Not found");
    expect(describeInvitation(s.db, ginas.token, clock.now())?.state).toBe("pending");
    for (const action of ["role", "remove"]) {
      const { r } = await as.alice!.post(`/settings/members/${gina.id}/${action}`, { role: "viewer" });
      expect(`${action}: ${r.status}`).toBe(`${action}: 404`);
    }
    expect(findMembership(s.db, globex, gina.id)).toBe("owner");
  });
});

describe("the invitation's page", () => {
  test("is public: signed out it describes the invitation and offers to sign in or create the account", async () => {
    const { path, token } = await invite(as.dave!, "carol@example.com", "admin");
    const visitor = new FormClient(s.url);
    const { r, html } = await visitor.get(path);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(html).toContain("<h1>Join Acme</h1>");
    expect(html).toMatch(/Dave<\/span> invited <strong>carol@example.com<\/strong> to join <strong>Acme<\/strong> on Crontopus as <strong>admin<\/strong>/);
    expect(html).toContain("<dt>Invited by</dt><dd>Dave</dd>");
    expect(html).toContain("(in 7 days)");
    expect(html).toContain(`href="/login?next=%2Finvitations%2F${token}"`);
    expect(actions(html)).toEqual([`/invitations/${token}/sign-up`]);
    expect(html).toContain('<input id="email" name="email" type="email" value="carol@example.com" autocomplete="username" aria-describedby="email-hint" readonly=""/>');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+=|\sstyle=/);
  });

  test("signed in with the invited address: Accept joins the tenant, switches the session to it and opens the dashboard", async () => {
    const erin = await persona(s.db, "erin", "erin-co", "owner");
    const { path, token } = await invite(as.alice!, "erin@example.com", "member");
    // Through the page's Sign in link: the login comes back to the invitation.
    const browser = new FormClient(s.url);
    const signedOut = await browser.get(path);
    const login = /href="(\/login\?next=[^"]+)"/.exec(signedOut.html)![1]!;
    expect(await browser.login(erin.email, PASSWORD, new URL(login, s.url).searchParams.get("next")!)).toBe(path);
    const { html } = await browser.get(path);
    expect(actions(html)).toContain(`/invitations/${token}/accept`);
    expect(html).toContain('<button type="submit">Accept and join Acme</button>');
    const accepted = await browser.post(`${path}/accept`, {});
    expect([accepted.r.status, accepted.r.headers.get("location")]).toEqual([303, "/"]);
    const dashboard = await browser.get("/");
    expect(flashOf(dashboard.html)).toBe("Welcome to Acme: you joined it as a member.");
    expect(dashboard.html).toContain('<option value="acme" selected>Acme</option>');
    expect(findMembership(s.db, acme, erin.id)).toBe("member");
    // Used: the link is dead, and accepting again changes nothing.
    expect((await browser.get(path)).r.status).toBe(404);
    expect((await browser.post(`${path}/accept`, {})).r.status).toBe(404);
  });

  test("signing up through it: errors by field, then the account is made, signed in, and in the tenant", async () => {
    const { path } = await invite(as.alice!, "Fiona@Example.com", "viewer");
    const browser = new FormClient(s.url);
    await browser.get(path);
    const differ = await browser.post(`${path}/sign-up`, { name: "Fiona", password: "fiona-password", confirm: "fiona-passwort" });
    expect(differ.r.status).toBe(422);
    expect(differ.html).toContain('<span class="field-error" id="confirm-error">The two passwords differ.</span>');
    expect(differ.html).toContain('value="Fiona"');
    const short = await browser.post(`${path}/sign-up`, { name: "Fiona", password: "short", confirm: "short" });
    expect(short.r.status).toBe(422);
    expect(short.html).toContain('aria-describedby="password-hint password-error"');
    expect(short.html).toContain('<span class="field-error" id="password-error">Must be at least 8 characters.</span>');
    expect(findUserByEmail(s.db, "fiona@example.com")).toBeNull();

    const made = await browser.post(`${path}/sign-up`, { name: "Fiona", password: "fiona-password", confirm: "fiona-password", email: "someone-else@example.com" });
    expect([made.r.status, made.r.headers.get("location")]).toEqual([303, "/"]);
    expect(browser.cookies.has("crontopus_session")).toBe(true);
    const dashboard = await browser.get("/");
    expect(dashboard.r.status).toBe(200);
    expect(flashOf(dashboard.html)).toBe("Welcome to Acme: you joined it as a viewer. Sign in with fiona@example.com from now on.");
    expect(dashboard.html).toContain('<span class="tenant-name">Acme</span>');
    // The invited address, not one sent along; the password as argon2id, good for the login form.
    const fiona = findUserByEmail(s.db, "fiona@example.com")!;
    expect([fiona.name, findMembership(s.db, acme, fiona.id), findUserByEmail(s.db, "someone-else@example.com")]).toEqual(["Fiona", "viewer", null]);
    expect(s.db.query<{ h: string }, [string]>("SELECT password_hash AS h FROM users WHERE id = ?").get(fiona.id)!.h).toStartWith("$argon2id$");
    expect((await verifyLogin(s.db, "fiona@example.com", "fiona-password")).id).toBe(fiona.id);
    expect((await new FormClient(s.url).get(path)).r.status).toBe(404);
  });

  test("signing up with an address that has an account says to sign in instead", async () => {
    const { path } = await invite(as.alice!, "bob@example.com", "viewer");
    const browser = new FormClient(s.url);
    await browser.get(path);
    const { r, html } = await browser.post(`${path}/sign-up`, { name: "Bob", password: "another-password", confirm: "another-password" });
    expect(r.status).toBe(409);
    expect(html).toContain('<div class="flash flash-error" role="alert">Bob@example.com already has an account: sign in to accept the invitation.</div>');
    expect(browser.cookies.has("crontopus_session")).toBe(false);
    expect(findMembership(s.db, acme, userId("bob@example.com"))).toBeNull();
  });

  test("signed in as someone else: says whose it is, refuses Accept, and offers to log out and come back", async () => {
    const { path, token } = await invite(as.alice!, "gus@example.com", "admin");
    const { html } = await as.bob!.get(path);
    expect(html).toContain("You are signed in as <strong>bob@example.com</strong>, and this invitation is for <strong>gus@example.com</strong>.");
    expect(actions(html)).toEqual(["/logout"]);
    expect(html).toContain(`<input type="hidden" name="next" value="/invitations/${token}"/>`);
    const refused = await as.bob!.post(`${path}/accept`, {});
    expect(refused.r.status).toBe(403);
    expect(refused.html).toContain("You are signed in as <strong>bob@example.com</strong>");
    expect(findMembership(s.db, acme, userId("bob@example.com"))).toBeNull();
    expect(describeInvitation(s.db, token, clock.now())?.state).toBe("pending");
    // Log out from there: back on the invitation, signed out, with both ways in.
    const bob = new FormClient(s.url);
    await bob.login("bob@example.com", PASSWORD);
    await bob.get(path);
    const out = await bob.post("/logout", { next: path });
    expect([out.r.status, out.r.headers.get("location")]).toEqual([303, path]);
    const back = await bob.get(path);
    expect(flashOf(back.html)).toBe("You are signed out.");
    expect(actions(back.html)).toEqual([`/invitations/${token}/sign-up`]);
  });

  test("an expired, used or unknown link, or a malformed one, is the same 404 page, and accepts nothing", async () => {
    const expired = await invite(as.alice!, "late@example.com");
    clock.advance(INVITATION_TTL_MS + 1000);
    const used = await invite(as.alice!, "used@example.com");
    const ida = await persona(s.db, "used", "used-co", "owner");
    const usedBy = new FormClient(s.url);
    await usedBy.login(ida.email, PASSWORD);
    await usedBy.get(used.path);
    expect((await usedBy.post(`${used.path}/accept`, {})).r.status).toBe(303);
    const pages: string[] = [];
    for (const path of [expired.path, used.path, "/invitations/cti_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/invitations/%3Cscript%3E"]) {
      const visitor = new FormClient(s.url);
      // A dead link's page has no form: the token comes from another page of the same browser.
      await visitor.get("/login");
      const { r, html } = await visitor.get(path);
      expect(`${path}: ${r.status}`).toBe(`${path}: 404`);
      pages.push(bare(html));
      const signUp = await visitor.post(`${path}/sign-up`, { name: "Late", password: "late-password", confirm: "late-password" });
      expect(`${path} sign-up: ${signUp.r.status}`).toBe(`${path} sign-up: 404`);
      expect(bare(signUp.html)).toBe(pages[0]!);
    }
    expect(new Set(pages).size).toBe(1);
    expect(pages[0]).toContain("This invitation link does not work");
    expect(pages[0]).not.toContain("Acme");
    expect(findUserByEmail(s.db, "late@example.com")).toBeNull();
  });
});

describe("members", () => {
  test("an owner changes a role and removes a member; the page says so", async () => {
    await persona(s.db, "ivan", "acme", "viewer");
    const ivan = userId("ivan@example.com");
    const { html } = await as.alice!.get(MEMBERS);
    expect(memberRows(html)).toEqual(listMembers(s.db, acme).map((m) => m.email));
    expect(html).toContain('<select name="role" aria-label="Role of ivan@example.com"><option>owner</option><option>admin</option><option>member</option><option selected>viewer</option></select>');
    expect(actions(html)).toEqual(expect.arrayContaining([`${MEMBERS}/${ivan}/role`, `${MEMBERS}/${ivan}/remove`]));
    const changed = await as.alice!.post(`${MEMBERS}/${ivan}/role`, { role: "admin" });
    expect([changed.r.status, changed.r.headers.get("location")]).toEqual([303, MEMBERS]);
    expect(flashOf((await as.alice!.get(MEMBERS)).html)).toBe("ivan@example.com is now an admin.");
    expect(findMembership(s.db, acme, ivan)).toBe("admin");
    expect(html).toContain('data-confirm="Remove ivan@example.com from Acme? Their API tokens for this tenant stop working."');
    const removed = await as.alice!.post(`${MEMBERS}/${ivan}/remove`, {});
    expect(removed.r.status).toBe(303);
    expect(flashOf((await as.alice!.get(MEMBERS)).html)).toBe("Removed ivan@example.com from Acme.");
    expect(findMembership(s.db, acme, ivan)).toBeNull();
  });

  test("viewers and members see no button or form, and are refused if they post anyway", async () => {
    const target = await invite(as.alice!, "target@example.com");
    const id = listInvitations(s.db, await sessionCaller(s.db, alice.id, acme), clock.now()).find((i) => i.email === "target@example.com")!.id;
    for (const who of ["val", "mia"]) {
      const { r, html } = await as[who]!.get(MEMBERS);
      expect(r.status).toBe(200);
      expect(memberRows(html)).toContain("alice@example.com");
      // Only the top bar's forms (log out, and the tenant switcher for those with several).
      expect(`${who}: ${actions(html).filter((a) => a !== "/logout" && a !== "/switch-tenant")}`).toBe(`${who}: `);
      expect(html.slice(html.indexOf("<main")).includes("<form")).toBe(false);
      expect(html).toContain("Only the tenant's owners and admins invite people and change roles.");
      const posts: [string, Record<string, string>][] = [
        [MEMBERS, { email: "sneaky@example.com", role: "viewer" }],
        [`${MEMBERS}/${dave.id}/role`, { role: "viewer" }],
        [`${MEMBERS}/${dave.id}/remove`, {}],
        [`${MEMBERS}/invitations/${id}/revoke`, {}],
      ];
      for (const [path, form] of posts) {
        const answer = await as[who]!.post(path, form);
        expect(`${who} ${path}: ${answer.r.status}`).toBe(`${who} ${path}: 403`);
        expect(answer.html).toContain("Not allowed");
      }
    }
    expect(findMembership(s.db, acme, dave.id)).toBe("admin");
    expect(describeInvitation(s.db, target.token, clock.now())?.state).toBe("pending");
    expect(listInvitations(s.db, await sessionCaller(s.db, alice.id, acme), clock.now()).map((i) => i.email)).not.toContain("sneaky@example.com");
  });

  test("the owner rules: an admin is offered no owner role and no control over an owner, and is refused them; the last owner stays", async () => {
    const { html } = await as.dave!.get(MEMBERS);
    const inviteForm = html.slice(html.indexOf('<form method="post" action="/settings/members" class="invite-form"'));
    expect(inviteForm.slice(0, inviteForm.indexOf("</form>"))).not.toContain('value="owner"');
    expect(html).not.toContain(`/settings/members/${alice.id}/`);
    expect(html).toContain(`action="/settings/members/${mia.id}/role"`);
    expect(html.slice(html.indexOf('aria-label="Role of mia@example.com"')).split("</select>")[0]).toBe('aria-label="Role of mia@example.com"><option>admin</option><option selected>member</option><option>viewer</option>');
    for (const [path, form] of [
      [MEMBERS, { email: "boss@example.com", role: "owner" }],
      [`${MEMBERS}/${alice.id}/role`, { role: "admin" }],
      [`${MEMBERS}/${alice.id}/remove`, {}],
      [`${MEMBERS}/${mia.id}/role`, { role: "owner" }],
    ] as const) {
      const { r, html: answer } = await as.dave!.post(path, form);
      expect(`${path}: ${r.status}`).toBe(`${path}: 403`);
      expect(answer).toContain("Only an owner can grant or change the owner role.");
    }
    expect([findMembership(s.db, acme, alice.id), findMembership(s.db, acme, mia.id)]).toEqual(["owner", "member"]);
    // Alice is the only owner: no control on her own row, and a post anyway is a 409.
    const own = await as.alice!.get(MEMBERS);
    expect(own.html).not.toContain(`/settings/members/${alice.id}/`);
    const demote = await as.alice!.post(`${MEMBERS}/${alice.id}/role`, { role: "admin" });
    expect(demote.r.status).toBe(409);
    expect(demote.html).toContain("The last owner cannot be demoted; make someone else owner first.");
    expect(findMembership(s.db, acme, alice.id)).toBe("owner");
  });

  test("every form needs the page's token: without it nothing changes", async () => {
    const { path, token } = await invite(as.alice!, "csrf@example.com");
    const id = listInvitations(s.db, await sessionCaller(s.db, alice.id, acme), clock.now()).find((i) => i.email === "csrf@example.com")!.id;
    const jack = await persona(s.db, "jack", "jack-co", "owner");
    const asJack = new FormClient(s.url);
    await asJack.login(jack.email, PASSWORD);
    const posts: [FormClient, string, Record<string, string>][] = [
      [as.alice!, MEMBERS, { email: "forged@example.com", role: "admin" }],
      [as.alice!, `${MEMBERS}/${mia.id}/role`, { role: "viewer" }],
      [as.alice!, `${MEMBERS}/${mia.id}/remove`, {}],
      [as.alice!, `${MEMBERS}/invitations/${id}/revoke`, {}],
      [asJack, `${path}/accept`, {}],
      [new FormClient(s.url), `${path}/sign-up`, { name: "Csrf", password: "csrf-password", confirm: "csrf-password" }],
      [as.bob!, "/logout", { next: path }],
    ];
    for (const [who, action, form] of posts) {
      await who.get(action.startsWith("/invitations") ? path : MEMBERS);
      for (const csrf of [null, "", "forged"]) {
        const { r, html } = await who.post(action, form, { csrf });
        expect(`${action} ${csrf}: ${r.status}`).toBe(`${action} ${csrf}: 403`);
        expect(html).toContain("Form expired");
      }
      // The page's own token, from another site.
      const cross = await who.post(action, form, { headers: { origin: "https://evil.example" } });
      expect(`${action} cross-site: ${cross.r.status}`).toBe(`${action} cross-site: 403`);
    }
    expect(findMembership(s.db, acme, mia.id)).toBe("member");
    expect(describeInvitation(s.db, token, clock.now())?.state).toBe("pending");
    expect(listInvitations(s.db, await sessionCaller(s.db, alice.id, acme), clock.now()).map((i) => i.email)).not.toContain("forged@example.com");
    expect([findUserByEmail(s.db, "csrf@example.com"), findMembership(s.db, acme, jack.id)]).toEqual([null, null]);
    expect((await as.bob!.get("/")).r.status).toBe(200);
  });
});

describe("weight", () => {
  test("a full members page (100 pending invitations, 30 members) with its styles and script stays under 150 KB", async () => {
    const owner = await persona(s.db, "lena", "bigco", "owner");
    const bigco = findTenant(s.db, "bigco")!.id;
    const hash = await hashPassword(PASSWORD);
    for (let i = 0; i < 29; i++) {
      insertUser(s.db, { email: `staff-${String(i).padStart(2, "0")}@bigco.example`, password: PASSWORD, name: `Staff Member ${i}` }, hash, clock.now());
      await addMember(s.db, bigco, "owner", { email: `staff-${String(i).padStart(2, "0")}@bigco.example`, role: i % 2 ? "member" : "viewer" });
    }
    const caller = await sessionCaller(s.db, owner.id, bigco);
    // Half made two hours ago, half now: within the hourly limit, at the pending one.
    for (let i = 0; i < LIMITS.pendingInvitations; i++) {
      const at = i < LIMITS.pendingInvitations / 2 ? clock.now() - 7_200_000 : clock.now();
      createInvitation(s.db, caller, { email: `candidate-${String(i).padStart(3, "0")}@bigco.example`, role: "member" }, at);
    }
    const lena = new FormClient(s.url);
    await lena.login(owner.email, PASSWORD);
    const { html } = await lena.get(MEMBERS);
    expect([memberRows(html).length, pendingRows(html).length]).toEqual([30, LIMITS.pendingInvitations]);
    let bytes = Buffer.byteLength(html);
    for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
      const r = await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } });
      bytes += (await r.arrayBuffer()).byteLength;
    }
    expect(bytes).toBeLessThan(150 * 1024);
  });
});

describe("escaping", () => {
  test("a hostile tenant name, inviter name and address show as text on both pages", async () => {
    const evil = '<script>alert("t")</script>"\'';
    const kate = await persona(s.db, "kate", "evil", "owner");
    updateTenantSettings(s.db, findTenant(s.db, "evil")!.id, { name: evil });
    s.db.query("UPDATE users SET name = ? WHERE id = ?").run('<img src=x onerror=alert("n")>', kate.id);
    const asKate = new FormClient(s.url);
    await asKate.login(kate.email, PASSWORD);
    const email = '<img/src=x/onerror=alert("e")>@evil.test';
    const { r, html, path } = await invite(asKate, email, "viewer");
    expect(r.status).toBe(200);
    const members = (await asKate.get(MEMBERS)).html;
    const invitation = (await new FormClient(s.url).get(path)).html;
    for (const [page, text] of [
      ["answer", html],
      ["members", members],
      ["invitation", invitation],
    ]) {
      // Outside attribute values (quoted, their quotes escaped), no markup of theirs is left.
      const outside = text!.replace(/="[^"]*"/g, '=""');
      expect(`${page}: ${outside.match(/<script>alert|<img[ /]src=x/g)}`).toBe(`${page}: null`);
    }
    expect(members).toContain("<tr><td>&lt;img/src=x/onerror=alert(&quot;e&quot;)&gt;@evil.test</td>");
    expect(html).toContain("Invitation for &lt;img/src=x/onerror=alert(&quot;e&quot;)&gt;@evil.test");
    expect(members).toContain("Members of &lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;&quot;&#x27;");
    expect(invitation).toContain("<h1>Join &lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;&quot;&#x27;</h1>");
    expect(invitation).toContain("<dd>&lt;img src=x onerror=alert(&quot;n&quot;)&gt;</dd>");
  });
});
