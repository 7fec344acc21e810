// The navigation's pages not built yet, each a placeholder in the layout (views/pending.tsx), so
// that the navigation lands in the console after sign-in. A feature's console
// surface (src/<feature>/console.tsx) takes over its routes from here.
import type { AppContext } from "../context";
import { consoleGroup, page } from "./surface";
import { PendingPage } from "../../views/pending";
import type { Shell } from "../../views/shell";

const pending =
  (title: string, instead: string) =>
  ({ shell }: { shell: Shell }) =>
    page(PendingPage({ shell, title, instead }));

export function pendingConsole(ctx: AppContext) {
  return consoleGroup(ctx, "tenant")
    .get("/agents", pending("Agents", "Until then: crontopus agents list, or GET /api/v1/agents."))
    .get("/agents/:id", pending("Agent", "Until then: crontopus agents get, or GET /api/v1/agents/{id}."));
}
