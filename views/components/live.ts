// What makes an element a live part of its page (public/live.ts; docs/console.md, "Live updates").
// A page adopts live updates with one spread on the element that shows the changing data:
//
//   <section id="agents" {...live("/agents/list", "agent")}>…</section>
//
// and a route that answers `url` with that element alone (the same component, so the page and
// the refresh cannot drift apart).

export interface LiveOptions {
  /** The least time between two refreshes (an htmx interval: "500ms", "1s"); public/live.ts's default is 500 ms. */
  gap?: string;
  /** How often to fetch it when the page has no stream; public/live.ts's default is 5 s. */
  poll?: string;
  /** How htmx puts the answer in: the element morphed in place (default), or "none" for an answer of out-of-band swaps. */
  swap?: string;
}

/**
 * The attributes of a live part: htmx fetches `url` again when a change the part `follows`
 * (space-separated: `job`, `run`, `agent` for any of the tenant's; `job:<id>`, `run:<job id>`,
 * `agent:<id>` for one) reaches the page, or every `poll` without a stream.
 */
export function live(url: string, follows: string, opts: LiveOptions = {}): Record<string, string> {
  const attrs: Record<string, string> = { "hx-get": url, "hx-trigger": "live", "hx-swap": opts.swap ?? "outerMorph", "data-live": follows };
  if (opts.gap) attrs["data-live-gap"] = opts.gap;
  if (opts.poll) attrs["data-live-poll"] = opts.poll;
  return attrs;
}
