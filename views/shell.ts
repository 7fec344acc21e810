// What every console page around its content shows: who is signed in, in which tenant, the
// navigation, the flash message and the page's CSRF token. The console's surface builds it once per
// request (src/console/surface.ts); views only read it.
import type { Flash } from "../src/console/flash";
import type { Role, TenantMembership } from "../src/tenants/members";

export interface Shell {
  user: { email: string; name: string } | null;
  /** The tenant the session acts in. */
  tenant: { slug: string; name: string; role: Role } | null;
  /** Every tenant of the user: the switcher shows them when there are several. */
  tenants: TenantMembership[];
  /** The token every form carries (hidden field) and htmx sends (header, from the meta tag). */
  csrf: string;
  flash: Flash | null;
  /** The path asked for: the navigation marks its section. */
  path: string;
  /** Where the tenant's live events stood when the page was made: its stream starts there (public/live.ts). */
  liveFrom?: string;
}

/** The sections of the navigation, in order. */
export const NAV: readonly { href: string; label: string }[] = [
  { href: "/", label: "Dashboard" },
  { href: "/jobs", label: "Jobs" },
  { href: "/runs", label: "Runs" },
  { href: "/timeline", label: "Timeline" },
  { href: "/agents", label: "Agents" },
  { href: "/settings", label: "Settings" },
];

/** The navigation section a path belongs to: "/" for the dashboard, "/jobs" for "/jobs/ops/backup", null for none. */
export function sectionOf(path: string): string | null {
  const first = path.split(/[?#]/)[0]!.split("/")[1] ?? "";
  const section = `/${first}`;
  return NAV.some((n) => n.href === section) ? section : null;
}
