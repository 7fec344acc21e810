// The tenant's members (GET /settings/members): who belongs, in which role, with a role change and
// Remove where the rules allow them; the pending invitations with Revoke; the invitation form, and
// after it the one-time link, shown this once. Owners and admins see the controls; others the list.
import type { Invitation } from "../src/tenants/invitations";
import type { Member, MemberChanges, Role } from "../src/tenants/members";
import { Layout } from "./layout";
import { CsrfField, Field, FormAlert, type FieldErrors } from "./components/form";
import { SelectField } from "./components/select";
import { SettingsNav } from "./components/settingsnav";
import { Time } from "./components/time";
import type { Shell } from "./shell";

export interface MemberRow {
  member: Member;
  /** What the viewer may change of this member; null for a viewer who manages no one. */
  changes: MemberChanges | null;
  /** The viewer themself. */
  you: boolean;
}

export interface MembersView {
  tenant: { slug: string; name: string };
  members: MemberRow[];
  /** The viewer holds the admin scope: invites, changes and revokes. */
  canAdmin: boolean;
  /** The pending invitations, for those who may see them. */
  invitations: Invitation[];
  /** The roles the viewer may invite with. */
  inviteRoles: Role[];
  /** The server mails invitations (CRONTOPUS_SMTP_URL is set). */
  smtp: boolean;
  now: number;
}

export interface InviteForm {
  email: string;
  role: string;
  errors: FieldErrors;
  /** An error about the form as a whole (a limit). */
  alert?: string;
}

/** The answer to an invitation: its link, shown once. */
export interface Invited {
  email: string;
  role: Role;
  expires_at: number;
  url: string;
  /** Mailed as well (the server has SMTP). */
  mailed: boolean;
}

export const EMPTY_INVITE: InviteForm = { email: "", role: "member", errors: {} };

/** What each role may do, in the words of the invitation form and page. */
export const ROLE_WORDS: Record<Role, string> = {
  owner: "everything, including the owners and the tenant itself",
  admin: "members, invitations, settings, channels and tokens, and all a member does",
  member: "create, change and pause jobs, and read everything",
  viewer: "read only",
};

const memberPath = (m: Member) => `/settings/members/${encodeURIComponent(m.user_id)}`;

/**
 * A member's controls, in one form (one CSRF field): the role select with Change, and Remove, which
 * posts the same form elsewhere (formaction). Only what the rules allow; a dash for nothing.
 */
function MemberActions({ row, csrf, tenant }: { row: MemberRow; csrf: string; tenant: string }) {
  const { member, changes } = row;
  const roles = changes && changes.roles.length > 1 ? changes.roles : null;
  const canRemove = !!changes?.removable;
  if (!roles && !canRemove) return <span class="muted">—</span>;
  const path = memberPath(member);
  const question = row.you ? `Leave ${tenant}? You will no longer see it.` : `Remove ${member.email} from ${tenant}? Their API tokens for this tenant stop working.`;
  return (
    <form class="inline-form" method="post" action={`${path}/${roles ? "role" : "remove"}`}>
      <CsrfField token={csrf} />
      {roles ? (
        <>
          <select name="role" aria-label={`Role of ${member.email}`}>
            {roles.map((r) => (
              <option selected={r === member.role}>{r}</option>
            ))}
          </select>
          <button>
            Change<span class="visually-hidden" safe>{` the role of ${member.email}`}</span>
          </button>
        </>
      ) : null}
      {canRemove ? (
        <button formaction={`${path}/remove`} data-confirm={question}>
          {row.you ? "Leave" : "Remove"}
          <span class="visually-hidden" safe>{` ${member.email}`}</span>
        </button>
      ) : null}
    </form>
  );
}

function MembersTable({ view, csrf }: { view: MembersView; csrf: string }) {
  return (
    <div class="table-wrap">
      <table class="data-table members">
        <caption class="visually-hidden">Members</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            {view.canAdmin ? <th scope="col">Change</th> : null}
          </tr>
        </thead>
        <tbody>
          {view.members.map((row) => (
            <tr data-member={row.member.email}>
              <td>
                <span safe>{row.member.email}</span>
                {row.you ? <span class="muted"> (you)</span> : null}
              </td>
              <td safe>{row.member.name || "—"}</td>
              <td>
                <span data-role={row.member.role}>{row.member.role}</span>
              </td>
              {view.canAdmin ? (
                <td class="member-actions">
                  <MemberActions row={row} csrf={csrf} tenant={view.tenant.name} />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The pending invitations: one form (one CSRF field) in which each Revoke posts to its own
 * invitation (formaction). Rows stay small: 100 of them (the most a tenant has) fit the page budget.
 */
function Pending({ view, csrf }: { view: MembersView; csrf: string }) {
  return (
    <section class="panel" aria-labelledby="pending-title">
      <h2 id="pending-title">Pending invitations</h2>
      {view.invitations.length === 0 ? (
        <p class="muted">None. An invitation waits here until it is accepted, revoked or expires (7 days).</p>
      ) : (
        <form method="post" class="revoke-form">
          <CsrfField token={csrf} />
          <div class="table-wrap">
            <table class="data-table invitations">
              <caption class="visually-hidden">Pending invitations</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Revoke</th>
                </tr>
              </thead>
              <tbody>
                {view.invitations.map((inv) => (
                  <tr>
                    <td safe>{inv.email}</td>
                    <td>
                      <span data-role={inv.role}>{inv.role}</span>
                    </td>
                    <td>
                      <Time at={inv.expires_at} />
                    </td>
                    <td>
                      <button formaction={`/settings/members/invitations/${encodeURIComponent(inv.id)}/revoke`} data-confirm="Revoke this invitation? Its link stops working.">
                        Revoke<span class="visually-hidden" safe>{` ${inv.email}`}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </form>
      )}
    </section>
  );
}

function InviteFormPanel({ view, form, csrf }: { view: MembersView; form: InviteForm; csrf: string }) {
  return (
    <section class="panel" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite</h2>
      <p class="muted">
        The person gets a link that works once, for 7 days. They accept it signed in with this address, or create their account with it. The answer is the same whether
        the address has an account on this server or not.
      </p>
      <FormAlert text={form.alert} />
      <form method="post" action="/settings/members" class="invite-form" novalidate>
        <CsrfField token={csrf} />
        <Field name="email" label="Email" type="email" value={form.email} error={form.errors.email} autocomplete="off" required />
        <SelectField name="role" label="Role" value={form.role} options={view.inviteRoles.map((r) => [r, r] as const)} error={form.errors.role} />
        <ul class="role-words muted">
          {view.inviteRoles.map((r) => (
            <li>
              <strong>{r}</strong>: <span safe>{ROLE_WORDS[r]}</span>
            </li>
          ))}
        </ul>
        <button type="submit">Invite</button>
      </form>
    </section>
  );
}

/** The one-time link of the invitation just made, with a copy button (public/jobs.ts), and whether it was mailed. */
function InvitedPanel({ invited }: { invited: Invited }) {
  return (
    <section id="invited" class="panel invited" aria-labelledby="invited-title">
      <h2 id="invited-title" safe>
        {`Invitation for ${invited.email}`}
      </h2>
      <p>
        Give this link to <strong safe>{invited.email}</strong>. It makes them a <strong>{invited.role}</strong> once they accept. It works once, until{" "}
        <Time at={invited.expires_at} />.
      </p>
      <div class="field">
        <span class="label" id="invite-url-label">
          The link, shown only now
        </span>
        <div class="copyable">
          <code id="invite-url" class="url" aria-labelledby="invite-url-label" safe>
            {invited.url}
          </code>
          <button type="button" class="button-quiet button-small copy" data-copy="#invite-url" hidden>
            Copy
          </button>
        </div>
      </div>
      {invited.mailed ? (
        <p class="invite-mail" safe>
          {`It is also being mailed to ${invited.email}.`}
        </p>
      ) : (
        <p class="invite-mail muted">This server sends no mail (CRONTOPUS_SMTP_URL is not set): hand the link over yourself.</p>
      )}
      <p class="muted">Lost it? Invite the address again: that makes a new link and the old one stops working.</p>
    </section>
  );
}

export function MembersPage({ shell, view, form = EMPTY_INVITE, invited }: { shell: Shell; view: MembersView; form?: InviteForm; invited?: Invited }) {
  return (
    <Layout shell={shell} title="Members">
      <div class="page-head">
        <h1>Settings</h1>
      </div>
      <SettingsNav current="/settings/members" />
      {invited ? <InvitedPanel invited={invited} /> : null}
      <section class="panel" aria-labelledby="members-title">
        <h2 id="members-title" safe>
          {`Members of ${view.tenant.name}`}
        </h2>
        <MembersTable view={view} csrf={shell.csrf} />
        <p class="muted members-note">
          {view.canAdmin
            ? "Only an owner makes, changes or removes an owner, and the last owner stays one until another is made."
            : "Only the tenant's owners and admins invite people and change roles."}
        </p>
      </section>
      {view.canAdmin ? (
        <div class="members-admin">
          <InviteFormPanel view={view} form={form} csrf={shell.csrf} />
          <Pending view={view} csrf={shell.csrf} />
        </div>
      ) : null}
    </Layout>
  );
}
