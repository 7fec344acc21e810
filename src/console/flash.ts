// Flash messages: one line shown on the next page after a form's redirect ("Password changed"),
// carried in a short-lived cookie and cleared by the page that shows it.
export interface Flash {
  kind: "ok" | "info" | "error";
  text: string;
}

export const FLASH_COOKIE = "crontopus_flash";
const KINDS = new Set(["ok", "info", "error"]);

/** The Set-Cookie that shows `flash` on the next page. */
export function flashCookie(flash: Flash, secure: boolean): string {
  const value = Buffer.from(JSON.stringify([flash.kind, flash.text.slice(0, 500)])).toString("base64url");
  return `${FLASH_COOKIE}=${value}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** The Set-Cookie that clears the flash once shown. */
export const clearFlashCookie = (secure: boolean) => `${FLASH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;

/** The flash a cookie value carries; null for none or for anything malformed. (The page escapes its text.) */
export function readFlash(value: string | null): Flash | null {
  if (!value) return null;
  try {
    const v = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 2 && KINDS.has(v[0]) && typeof v[1] === "string") return { kind: v[0], text: v[1] };
  } catch {}
  return null;
}
