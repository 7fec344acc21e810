import { describe, expect, test } from "bun:test";
import { median, nearest } from "./lib";

describe("bench figures", () => {
  test("the median of an odd number of rounds is the middle one, of an even number the mean of the middle two", () => {
    expect(median([30, 10, 20])).toBe(20);
    // Two sustained runs of 0.45 and 0.55: 0.50, not the better of the two.
    expect(median([0.55, 0.45])).toBeCloseTo(0.5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test("the run reported for its latencies is the one nearest the median rate", () => {
    const runs = [{ rps: 100, p99: 1 }, { rps: 300, p99: 3 }, { rps: 210, p99: 2 }];
    expect(nearest(runs, median(runs.map((r) => r.rps))).p99).toBe(2);
  });
});
