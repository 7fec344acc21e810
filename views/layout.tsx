// The page around every console page: head (assets, CSRF token, htmx config), the top bar with
// the navigation, the tenant switcher and the account, the flash message, then the content.
import type { Children } from "@kitajs/html";
import { assetUrl } from "../src/assets";
import { NAV, sectionOf, type Shell } from "./shell";
import { CsrfField } from "./components/form";

// htmx's own indicator styles are turned off: they would be a stylesheet the CSP does not name
// (console.css has them instead).
const HTMX_CONFIG = JSON.stringify({ includeIndicatorCSS: false });

function Head({ title, csrf, liveFrom }: { title: string; csrf?: string; liveFrom?: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      {csrf ? <meta name="csrf-token" content={csrf} /> : null}
      <meta name="htmx-config" content={HTMX_CONFIG} />
      {liveFrom ? <meta name="live-events" content={`/events?from=${encodeURIComponent(liveFrom)}`} /> : null}
      <title safe>{`${title} · Crontopus`}</title>
      <link rel="icon" href={assetUrl("favicon.svg")} type="image/svg+xml" />
      <link rel="stylesheet" href={assetUrl("console.css")} />
      <script src={assetUrl("console.js")} defer></script>
    </head>
  );
}

function Flash({ shell }: { shell: Shell }) {
  if (!shell.flash) return null;
  return (
    <div class={`flash flash-${shell.flash.kind}`} role={shell.flash.kind === "error" ? "alert" : "status"} safe>
      {shell.flash.text}
    </div>
  );
}

/** A navigation: its links, the one for `current` marked aria-current="page". */
export function NavList({ items, current, label, cls }: { items: readonly { href: string; label: string }[]; current: string | null; label: string; cls: string }) {
  return (
    <nav class={cls} aria-label={label}>
      <ul>
        {items.map((n) => (
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

function Nav({ path }: { path: string }) {
  return <NavList items={NAV} current={sectionOf(path)} label="Main" cls="nav" />;
}

/** The active tenant; a form to switch when the user has several (an ordinary POST: no script needed). */
function TenantSwitcher({ shell }: { shell: Shell }) {
  if (shell.tenants.length < 2) {
    return shell.tenant ? (
      <span class="tenant-name" safe>
        {shell.tenant.name}
      </span>
    ) : null;
  }
  return (
    <form class="tenant-switch" method="post" action="/switch-tenant">
      <CsrfField token={shell.csrf} />
      <input type="hidden" name="next" value={sectionOf(shell.path) ?? "/"} />
      <label for="tenant-switch" class="visually-hidden">
        Tenant
      </label>
      <select id="tenant-switch" name="tenant">
        {shell.tenants.map((t) => (
          <option value={t.slug} selected={t.slug === shell.tenant?.slug} safe>
            {t.name}
          </option>
        ))}
      </select>
      <button type="submit" class="button-quiet button-small">
        Switch
      </button>
    </form>
  );
}

function Account({ shell }: { shell: Shell }) {
  if (!shell.user) return null;
  return (
    <div class="account">
      <TenantSwitcher shell={shell} />
      <span class="who" safe>
        {shell.user.email}
      </span>
      <a href="/account/password" aria-current={shell.path.startsWith("/account/password") ? "page" : undefined}>
        Password
      </a>
      <form class="inline-form" method="post" action="/logout">
        <CsrfField token={shell.csrf} />
        <button type="submit" class="button-quiet button-small">
          Log out
        </button>
      </form>
    </div>
  );
}

/** A page inside the console: the top bar, the navigation, the flash message, then `children`. */
export function Layout({ shell, title, children }: { shell: Shell; title: string; children: Children }) {
  return (
    <>
      {"<!doctype html>"}
      <html lang="en">
        <Head title={title} csrf={shell.csrf} liveFrom={shell.liveFrom} />
        <body>
          <a class="skip-link" href="#main">
            Skip to content
          </a>
          <header class="topbar">
            <div class="topbar-inner">
              <Brand />
              <Nav path={shell.path} />
              <Account shell={shell} />
            </div>
          </header>
          <main id="main">
            <Flash shell={shell} />
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/** The product's mark and name, linking home. */
function Brand() {
  return (
    <a class="brand" href="/">
      <img src={assetUrl("favicon.svg")} alt="" width="24" height="24" />
      Crontopus
    </a>
  );
}

/** A page outside the tenant (sign-in, first-run setup, errors): the brand and one card. */
export function BareLayout({ title, shell, children }: { title: string; shell?: Shell; children: Children }) {
  return (
    <>
      {"<!doctype html>"}
      <html lang="en">
        <Head title={title} csrf={shell?.csrf} />
        <body class="auth-body">
          <main id="main">
            <div class="auth-brand">
              <Brand />
            </div>
            {shell ? <Flash shell={shell} /> : null}
            {children}
          </main>
        </body>
      </html>
    </>
  );
}
