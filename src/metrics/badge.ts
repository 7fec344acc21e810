// Status badges: which status a badge shows (SQL, looked up by the tenant's badge key) and
// how it looks (a pure SVG in shields.io's flat style).
import type { Db } from "../db";
import type { JobStatus } from "../jobs/jobs";

export type BadgeStatus = JobStatus | "no jobs";

export interface Badge {
  label: string;
  status: BadgeStatus;
}

/** Hex for the SVG; the same colour by its shields.io name for the endpoint JSON. */
export const BADGE_COLORS: Record<BadgeStatus, { hex: string; shields: string }> = {
  up: { hex: "#4c1", shields: "brightgreen" },
  new: { hex: "#9f9f9f", shields: "lightgrey" },
  paused: { hex: "#9f9f9f", shields: "lightgrey" },
  running: { hex: "#007ec6", shields: "blue" },
  late: { hex: "#fe7d37", shields: "orange" },
  down: { hex: "#e05d44", shields: "red" },
  failed: { hex: "#e05d44", shields: "red" },
  "no jobs": { hex: "#9f9f9f", shields: "lightgrey" },
};

// Worst first: a label badge shows the first of these that any of its jobs has.
const SEVERITY: readonly JobStatus[] = ["down", "failed", "late", "running", "up", "new", "paused"];

export function worstStatus(statuses: Iterable<JobStatus>): JobStatus | null {
  let worst = SEVERITY.length;
  for (const s of statuses) worst = Math.min(worst, SEVERITY.indexOf(s));
  return SEVERITY[worst] ?? null;
}

function findTenantId(db: Db, badgeKey: string): string | null {
  return db.query<{ id: string }, [string]>("SELECT id FROM tenants WHERE badge_key = ?").get(badgeKey)?.id ?? null;
}

/** The badge of one job; null for a wrong key or a job the key's tenant does not have. */
export function findJobBadge(db: Db, badgeKey: string, namespace: string, name: string): Badge | null {
  const tenantId = findTenantId(db, badgeKey);
  if (!tenantId) return null;
  const r = db
    .query<{ status: JobStatus }, { tenant: string; namespace: string; name: string }>(
      "SELECT status FROM jobs WHERE tenant_id = $tenant AND namespace = $namespace AND name = $name",
    )
    .get({ tenant: tenantId, namespace, name });
  return r ? { label: name, status: r.status } : null;
}

/** The worst status of the tenant's jobs labelled key=value ("no jobs" when none is); null for a wrong key. */
export function findLabelBadge(db: Db, badgeKey: string, key: string, value: string): Badge | null {
  const tenantId = findTenantId(db, badgeKey);
  if (!tenantId) return null;
  const rows = db
    .query<{ status: JobStatus }, { tenant: string; key: string; value: string }>(
      `SELECT DISTINCT status FROM jobs
       WHERE tenant_id = $tenant AND EXISTS (SELECT 1 FROM json_each(labels) WHERE key = $key AND value = $value)`,
    )
    .all({ tenant: tenantId, key, value });
  return { label: `${key}=${value}`, status: worstStatus(rows.map((r) => r.status)) ?? "no jobs" };
}

/** shields.io's endpoint badge format, for `https://img.shields.io/endpoint?url=…`. */
export function badgeEndpointJson(badge: Badge) {
  return { schemaVersion: 1, label: badge.label, message: badge.status, color: BADGE_COLORS[badge.status].shields };
}

// Advance widths of Verdana in font units (2,048 to the em), for printable ASCII from " " to "~".
// prettier-ignore
const VERDANA_UNITS = [
  720, 809, 1047, 1716, 1303, 2222, 1493, 556, 909, 909, 1303, 1716, 745, 868, 745, 1303, // space to /
  1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 909, 909, 1716, 1716, 1716, 1118, // 0 to ?
  2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 862, 917, 1415, 1150, 1740, 1532, 1612, // @ to O
  1268, 1612, 1425, 1403, 1247, 1503, 1401, 2025, 1403, 1249, 1403, 909, 1303, 909, 1716, 1303, // P to _
  1303, 1233, 1260, 1071, 1260, 1219, 720, 1260, 1296, 559, 665, 1219, 559, 1990, 1296, 1237, // ` to o
  1260, 1260, 874, 1067, 807, 1296, 1219, 1673, 1219, 1219, 1063, 1300, 909, 1300, 1716, // p to ~
];

/** Width of text in Verdana 11px, in pixels; characters outside ASCII count as wide ones. */
export function textWidth(text: string): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    units += c >= 32 && c <= 126 ? VERDANA_UNITS[c - 32]! : c >= 0x2e80 ? 2048 : 1400;
  }
  return (units * 11) / 2048;
}

const XML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}

/** A flat shields.io-style badge: `label` on grey at the left, `message` on `color` at the right. */
export function renderBadge(label: string, message: string, color: string): string {
  // shields draws text at 10× size scaled by .1, so positions and lengths are in tenths of a pixel.
  const labelText = Math.round(textWidth(label));
  const messageText = Math.round(textWidth(message));
  const lw = labelText + 10;
  const mw = messageText + 10;
  const w = lw + mw;
  const l = escapeXml(label);
  const m = escapeXml(message);
  const c = escapeXml(color);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${l}: ${m}">` +
    `<title>${l}: ${m}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${c}"/>` +
    `<rect width="${w}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">` +
    `<text aria-hidden="true" x="${lw * 5}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${labelText * 10}">${l}</text>` +
    `<text x="${lw * 5}" y="140" transform="scale(.1)" fill="#fff" textLength="${labelText * 10}">${l}</text>` +
    `<text aria-hidden="true" x="${lw * 10 + mw * 5}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${messageText * 10}">${m}</text>` +
    `<text x="${lw * 10 + mw * 5}" y="140" transform="scale(.1)" fill="#fff" textLength="${messageText * 10}">${m}</text>` +
    `</g></svg>`
  );
}
