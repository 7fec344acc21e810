// The tenants feature as API JSON: the one place that knows its field names and writes its times as ISO 8601.
import { isoTime } from "../time";
import { invitationUrl, type AcceptedInvitation, type CreatedInvitation, type Invitation } from "./invitations";
import type { Member, Role, TenantMembership } from "./members";
import type { Namespace } from "./namespaces";
import type { Tenant, TenantSettings } from "./tenants";

/** A tenant as a member sees it. */
export const tenantJson = (t: Tenant & { role: Role }) => ({ slug: t.slug, name: t.name, role: t.role, created_at: isoTime(t.created_at) });

/** One of the caller's tenants; `current` marks the one they act in. */
export const myTenantJson = (m: TenantMembership, currentTenantId: string | null) => ({
  slug: m.slug,
  name: m.name,
  role: m.role,
  current: m.tenant_id === currentTenantId,
});

export const settingsJson = (s: TenantSettings) => ({
  slug: s.slug,
  name: s.name,
  ping_key: s.ping_key,
  badge_key: s.badge_key,
  auto_provision: s.auto_provision,
  retention_days: s.retention_days,
  retention_runs: s.retention_runs,
  created_at: isoTime(s.created_at),
});

export const memberJson = (m: Member) => ({ user_id: m.user_id, email: m.email, name: m.name, role: m.role, created_at: isoTime(m.created_at) });

export const namespaceJson = (n: Namespace) => ({ name: n.name, jobs: n.jobs, created_at: isoTime(n.created_at) });

/** A pending invitation, as its tenant's admins list it: never the link. */
export const invitationJson = (i: Invitation) => ({ id: i.id, email: i.email, role: i.role, created_at: isoTime(i.created_at), expires_at: isoTime(i.expires_at) });

/** A new invitation, with the link: the one time it is shown. */
export const createdInvitationJson = (i: CreatedInvitation, baseUrl: string) => ({
  id: i.id,
  email: i.email,
  role: i.role,
  expires_at: isoTime(i.expires_at),
  url: invitationUrl(baseUrl, i.token),
});

export const acceptedInvitationJson = (a: AcceptedInvitation) => ({ tenant: { slug: a.tenant.slug, name: a.tenant.name }, member: memberJson(a.member) });
