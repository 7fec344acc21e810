// The tenant's settings in the console, /settings: read by every member (as GET
// /api/v1/tenants/current is), changed and its keys rotated with the admin scope only (as PATCH
// /api/v1/tenants/current and POST …/rotate-key are), through the same service functions.
import type { AppContext } from "../context";
import { NotFound } from "../errors";
import { requireScope, type Principal } from "../auth/principal";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { getTenantSettings, rotateTenantKey, updateTenantSettings } from "./tenants";
import { RotateKeyPage, settingsValuesOf, TenantSettingsPage, type TenantKey, type TenantSettingsValues } from "../../views/settings";

const canAdmin = (viewer: Principal | null) => !!viewer?.scopes.includes("admin");

/** A form's number as the service takes it: NaN (which the service refuses by field) for anything but digits. */
const wholeNumber = (s: string) => (/^\d{1,9}$/.test(s.trim()) ? Number(s.trim()) : NaN);

function keyOf(raw: string): TenantKey {
  if (raw !== "ping_key" && raw !== "badge_key") throw new NotFound(`key ${raw}`);
  return raw;
}

export function tenantSettingsConsole(ctx: AppContext) {
  const { db } = ctx;
  const baseUrl = ctx.config.baseUrl;
  return consoleGroup(ctx, "tenant")
    .get("/settings", ({ viewer, shell }) => {
      const settings = getTenantSettings(db, requireScope(viewer, "read").tenantId);
      return page(TenantSettingsPage({ shell, view: { settings, canAdmin: canAdmin(viewer), values: settingsValuesOf(settings), errors: {}, baseUrl } }));
    })
    .post("/settings", ({ body, request, viewer, shell, set }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      const values: TenantSettingsValues = {
        name: field(body, "name"),
        retention_days: field(body, "retention_days"),
        retention_runs: field(body, "retention_runs"),
        auto_provision: field(body, "auto_provision") === "on",
      };
      try {
        updateTenantSettings(db, tenantId, {
          name: values.name,
          retention_days: wholeNumber(values.retention_days),
          retention_runs: wholeNumber(values.retention_runs),
          auto_provision: values.auto_provision,
        });
      } catch (e) {
        const errors = fieldErrors(e);
        if (!errors) throw e;
        const settings = getTenantSettings(db, tenantId);
        return page(TenantSettingsPage({ shell, view: { settings, canAdmin: true, values, errors, baseUrl } }), 422);
      }
      // As the API's PATCH does: a retention just lowered is applied within seconds, not at the next round.
      ctx.pruneSoon();
      flash(ctx, set, { kind: "ok", text: "Settings saved." });
      return hxRedirect(request, "/settings");
    })
    .get("/settings/rotate-key", ({ query, viewer, shell }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      const which = keyOf(String((query as Record<string, unknown>).key ?? ""));
      return page(RotateKeyPage({ shell, which, settings: getTenantSettings(db, tenantId), baseUrl }));
    })
    .post("/settings/rotate-key", ({ body, request, viewer, set }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      const which = keyOf(field(body, "key"));
      rotateTenantKey(db, tenantId, which);
      const text =
        which === "ping_key"
          ? "New ping key. Slug ping URLs with the old key answer 404 now: give the new ones to whatever pings by slug."
          : "New badge key. Badge URLs with the old key answer 404 now: update the pages that show them.";
      flash(ctx, set, { kind: "ok", text });
      return hxRedirect(request, "/settings");
    });
}
