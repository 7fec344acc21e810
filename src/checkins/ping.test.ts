// A ping body of any length, in any chunks: its head and tail are kept as if it had been read
// whole and cut (truncate), while no more than the limit is held.
import { describe, expect, test } from "bun:test";
import { readHeadTail } from "./ping";
import { truncate } from "./checkins";

async function* chunksOf(bytes: Uint8Array, sizes: () => number) {
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

describe("readHeadTail", () => {
  test("keeps the same head and tail as cutting the whole body, for 500 random bodies and chunkings", async () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 500; i++) {
      const limit = 1 + rand(300);
      const length = rand(4) === 0 ? rand(limit + 1) : rand(limit * 5);
      const text = Array.from({ length }, () => String.fromCharCode(97 + rand(26))).join("");
      const bytes = new TextEncoder().encode(text);
      // Small chunks, chunks larger than the whole limit, and one chunk with everything.
      const mode = rand(3);
      const got = await readHeadTail(chunksOf(bytes, () => (mode === 0 ? 1 + rand(7) : mode === 1 ? limit + rand(limit * 3) : bytes.length)), limit);
      const want = truncate(text, limit);
      expect({ limit, length, got }).toEqual({ limit, length, got: { body: want.text, truncated: want.truncated } });
    }
  });

  test("a 64 MB body in 8 MB chunks is cut to head and tail", async () => {
    const chunk = new Uint8Array(8 * 1024 * 1024).fill(0x61);
    async function* body() {
      yield new TextEncoder().encode("BEGIN");
      for (let i = 0; i < 8; i++) yield chunk;
      yield new TextEncoder().encode("END");
    }
    const { body: text, truncated } = await readHeadTail(body(), 1024);
    expect(truncated).toBe(true);
    expect(text).toStartWith("BEGIN");
    expect(text).toEndWith("END");
    expect(text!.length).toBeLessThan(1024 + 40);
  });
});
