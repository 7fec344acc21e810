// Small helpers for unit tests that look at what a function throws.
import { Invalid } from "../src/errors";

/** The Invalid that `fn` throws, so tests can read its field and message. */
export function invalid(fn: () => unknown): Invalid {
  try {
    fn();
  } catch (e) {
    if (e instanceof Invalid) return e;
    throw e;
  }
  throw new Error("expected Invalid, nothing was thrown");
}
