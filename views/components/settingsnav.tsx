// The settings section's own navigation: one page per kind of setting, under /settings.
// Every settings page puts it under its title, so that each is one click from the others.
import { NavList } from "../layout";
export const SETTINGS_NAV: readonly { href: string; label: string }[] = [
  { href: "/settings", label: "Tenant" },
  { href: "/settings/channels", label: "Channels" },
  { href: "/settings/tokens", label: "API tokens" },
  { href: "/settings/enrollment", label: "Enrollment tokens" },
  { href: "/settings/members", label: "Members" },
  { href: "/settings/gitops", label: "GitOps" },
];

/** The settings pages' tabs; `current` is the href of the page shown. */
export function SettingsNav({ current }: { current: string }) {
  return <NavList items={SETTINGS_NAV} current={current} label="Settings" cls="subnav" />;
}
