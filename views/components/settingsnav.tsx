// The settings section's own navigation: one page per kind of setting, under /settings.
// Every settings page puts it under its title, so that each is one click from the others.
export const SETTINGS_NAV: readonly { href: string; label: string }[] = [
  { href: "/settings", label: "Tenant" },
  { href: "/settings/channels", label: "Channels" },
  { href: "/settings/tokens", label: "API tokens" },
  { href: "/settings/enrollment", label: "Enrollment tokens" },
  { href: "/settings/members", label: "Members" },
];

/** The settings pages' tabs; `current` is the href of the page shown. */
export function SettingsNav({ current }: { current: string }) {
  return (
    <nav class="subnav" aria-label="Settings">
      <ul>
        {SETTINGS_NAV.map((n) => (
          <li>
            <a href={n.href} aria-current={n.href === current ? "page" : undefined} safe>
              {n.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
