// Secrets that end up on command lines (ping tokens and keys) never look like a flag.
import { expect, test } from "bun:test";
import { randomSecret } from "./tokens";

test("no secret starts with '-', so `crontopus ping <token>` never reads one as a flag", () => {
  // One in 64 base64url strings starts with "-": 10,000 draws would find many.
  const leading = new Set<string>();
  for (let i = 0; i < 10_000; i++) leading.add(randomSecret(18)[0]!);
  expect(leading.has("-")).toBe(false);
  expect(leading.size).toBeGreaterThan(50);
});
