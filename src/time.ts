// Rendering stored times. A time that no Date can hold (a row written before the check-in
// rules, a value edited by hand) must never make a read fail: it is clamped to the range of
// Date, and anything that is no number at all renders as null.

/** The largest magnitude a JavaScript Date holds, in ms from the epoch (±273,790 years). */
const MAX_DATE_MS = 8.64e15;

/** ISO 8601 (UTC) of an epoch-ms time; never throws. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null | undefined): string | null;
export function isoTime(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  const n = typeof ms === "number" ? ms : Number(ms);
  if (Number.isNaN(n)) return null;
  return new Date(Math.max(-MAX_DATE_MS, Math.min(MAX_DATE_MS, n))).toISOString();
}
