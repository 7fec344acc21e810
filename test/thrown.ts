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

/** The error of class `kind` that `fn` throws; the test fails on no error or another one. */
export function thrown<E extends Error>(kind: new (...args: any[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof kind) return e;
    throw e;
  }
  throw new Error(`expected ${kind.name}, nothing was thrown`);
}

/** The error of class `kind` that `p` rejects with; the test fails on success or another error. */
export async function rejected<E extends Error>(kind: new (...args: any[]) => E, p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (e) {
    if (e instanceof kind) return e;
    throw e;
  }
  throw new Error(`expected ${kind.name}, the promise resolved`);
}
