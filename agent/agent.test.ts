// The pure parts of agent/agent.ts; the passes themselves run end to end in test/agent.test.ts.
import { describe, expect, test } from "bun:test";
import { restoreAdopted, type AdoptedLine } from "./agent";

const legacy = (over: Partial<AdoptedLine> = {}): AdoptedLine => ({
  job_id: "01a20e42-9b00-7000-8000-000000000001",
  user: "bob",
  line: 3,
  prev: 'MAILTO=""',
  raw: "17 3 * * *\t/usr/bin/legacy-report  # nightly",
  ...over,
});

describe("restoreAdopted: the lines adopted jobs took over come back on uninstall", () => {
  test("at the line it had, when the line above it is still the same", () => {
    expect(restoreAdopted('# bob\nMAILTO=""\n@reboot /bin/echo booted\n', [legacy()])).toBe('# bob\nMAILTO=""\n17 3 * * *\t/usr/bin/legacy-report  # nightly\n@reboot /bin/echo booted\n');
  });

  test("under the last copy of the line that was above it, when lines moved since", () => {
    expect(restoreAdopted('# new first line\n# bob\nMAILTO=""\n0 1 * * * /bin/true\n', [legacy()])).toBe('# new first line\n# bob\nMAILTO=""\n17 3 * * *\t/usr/bin/legacy-report  # nightly\n0 1 * * * /bin/true\n');
  });

  test("at the end when the line above it is gone, and first when it was first", () => {
    expect(restoreAdopted("0 1 * * * /bin/true\n", [legacy()])).toBe("0 1 * * * /bin/true\n17 3 * * *\t/usr/bin/legacy-report  # nightly\n");
    expect(restoreAdopted("0 1 * * * /bin/true\n", [legacy({ line: 1, prev: null })])).toBe("17 3 * * *\t/usr/bin/legacy-report  # nightly\n0 1 * * * /bin/true\n");
    expect(restoreAdopted("", [legacy({ line: 1, prev: null })])).toBe("17 3 * * *\t/usr/bin/legacy-report  # nightly\n");
  });

  test("not twice when the user put it back by hand, and a text without a final newline gets one only when a line is added", () => {
    const text = '# bob\nMAILTO=""\n17 3 * * *\t/usr/bin/legacy-report  # nightly';
    expect(restoreAdopted(text, [legacy()])).toBe(text);
    expect(restoreAdopted("0 1 * * * /bin/true", [legacy()])).toBe("0 1 * * * /bin/true\n17 3 * * *\t/usr/bin/legacy-report  # nightly\n");
  });
});
