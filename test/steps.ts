// A story told in steps, for end-to-end tests of one system's life (a host, a repository).
import { test } from "bun:test";

/**
 * Returns `step(name, fn)`, which declares a test. A step's test first runs every step before it
 * (once), so each test stands on its own whatever order the tests run in (--randomize).
 */
export function story(timeoutMs = 120_000): (name: string, fn: () => Promise<void>) => void {
  const steps: Array<() => Promise<void>> = [];
  const reached: Promise<void>[] = [];
  const reach = (i: number): Promise<void> => (reached[i] ??= (i > 0 ? reach(i - 1) : Promise.resolve()).then(steps[i]!));
  return (name, fn) => {
    const i = steps.push(fn) - 1;
    test(name, () => reach(i), timeoutMs);
  };
}
