// The console's one script: htmx 4, and the session's CSRF token on every htmx request.
// Pages work without it (every form is an ordinary POST carrying the token in a hidden field);
// it only adds partial updates. No inline script anywhere: the CSP allows scripts from 'self' only.
import "htmx.org";
import "./copy";
import "./jobs";
import "./live";
import type { HtmxRequestCtx } from "htmx.org";
import "./local-time";

/** The page's CSRF token, from `<meta name="csrf-token">` (the layout writes it). */
function csrfToken(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content || null;
}

// Every htmx request (htmx 4 only sends to this origin: config.mode is "same-origin") carries the
// token as a header, also requests that submit no form.
document.addEventListener("htmx:config:request", (event) => {
  const token = csrfToken();
  const ctx = (event as CustomEvent<{ ctx: HtmxRequestCtx }>).detail.ctx;
  if (token) ctx.request.headers["X-CSRF-Token"] = token;
});

// A button with data-confirm asks before its form is sent (no inline handlers under the CSP).
document.addEventListener("submit", (event) => {
  const button = (event as SubmitEvent).submitter;
  const question = button?.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
