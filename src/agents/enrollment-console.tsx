// The tenant's enrollment tokens in the console, /settings/enrollment: as the API's
// /enrollment-tokens routes, only the admin scope (owners and admins) lists, makes and revokes
// them, through the same service functions (src/agents/enrollment.ts).
import type { AppContext } from "../context";
import { Invalid } from "../errors";
import { requireScope } from "../auth/principal";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { createEnrollmentToken, getEnrollmentToken, listEnrollmentTokens, revokeEnrollmentToken } from "./enrollment";
import { EMPTY_ENROLLMENT_VALUES, EnrollmentNotAllowedPage, EnrollmentPage, type EnrollmentFormValues, type EnrollmentView } from "../../views/enrollment";

/** `key=value` lines as a map of labels (the service checks the keys and values). */
function labelsOf(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Invalid("labels", `line ${i + 1} ("${line.slice(0, 40)}"): write each label as key=value`);
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return labels;
}

/** A form's optional number: undefined when empty, NaN (which the service refuses by field) for anything but digits. */
const optionalNumber = (s: string) => (s === "" ? undefined : /^\d{1,9}$/.test(s) ? Number(s) : NaN);

export function enrollmentConsole(ctx: AppContext) {
  const { db } = ctx;
  const view = (tenantId: string, over: Partial<EnrollmentView> = {}): EnrollmentView => ({
    tokens: listEnrollmentTokens(db, tenantId, ctx.now()),
    values: EMPTY_ENROLLMENT_VALUES,
    errors: {},
    now: ctx.now(),
    baseUrl: ctx.config.baseUrl,
    ...over,
  });

  return consoleGroup(ctx, "tenant")
    .get("/settings/enrollment", ({ viewer, shell }) => {
      // Members and viewers reach the page from the settings navigation: it says who manages these.
      if (!viewer?.scopes.includes("admin")) return page(EnrollmentNotAllowedPage({ shell }), 403);
      return page(EnrollmentPage({ shell, view: view(requireScope(viewer, "admin").tenantId) }));
    })
    .post("/settings/enrollment", ({ body, viewer, shell }) => {
      const p = requireScope(viewer, "admin");
      const values: EnrollmentFormValues = {
        name: field(body, "name"),
        labels: field(body, "labels"),
        max_uses: field(body, "max_uses").trim(),
        expires_in_days: field(body, "expires_in_days").trim(),
      };
      try {
        const created = createEnrollmentToken(
          db,
          p.tenantId,
          p.userId,
          { name: values.name, labels: labelsOf(values.labels), max_uses: optionalNumber(values.max_uses), expires_in_days: optionalNumber(values.expires_in_days) },
          ctx.now(),
        );
        // The secret is on this answer and nowhere else: no redirect (a flash cookie would carry it).
        return page(EnrollmentPage({ shell, view: view(p.tenantId, { created }) }), 201);
      } catch (e) {
        const byField = fieldErrors(e);
        if (!byField) throw e;
        // A label's own error names its key: "labels.Bad Key" under Labels as "Bad Key: …".
        const errors = Object.fromEntries(Object.entries(byField).map(([k, m]) => (k.startsWith("labels.") ? ["labels", `${k.slice(7)}: ${m.charAt(0).toLowerCase()}${m.slice(1)}`] : [k, m])));
        return page(EnrollmentPage({ shell, view: view(p.tenantId, { values, errors }) }), 422);
      }
    })
    .post("/settings/enrollment/:id/revoke", ({ params, request, viewer, set }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      const token = getEnrollmentToken(db, tenantId, params.id, ctx.now());
      revokeEnrollmentToken(db, tenantId, token.id);
      flash(ctx, set, { kind: "ok", text: `Revoked the enrollment token ${token.name}: no host can enroll with it any more.` });
      return hxRedirect(request, "/settings/enrollment");
    });
}
