// Output too long to keep, cut to its head and tail: a ping body streamed in any chunks, an
// API check-in's output, a command's output under `crontopus exec`. One module does all three.
import { describe, expect, test } from "bun:test";
import { cutMarker, HeadTail, readHeadTail, splitAtCut, Tail, truncateText } from "./headtail";

const utf8 = (s: string) => new TextEncoder().encode(s);
const bytesOf = (s: string) => Buffer.byteLength(s, "utf8");

async function* chunksOf(bytes: Uint8Array, sizes: () => number) {
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

function random(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
}

// One, two, three and four bytes of UTF-8, and the replacement character itself.
const ALPHABET = ["a", "b", "\n", "é", "ß", "€", "✓", "\uFFFD", "😀", "𝄞"];

/** The parts of a cut text: head, the number in the marker, tail. */
function parts(text: string): { head: string; dropped: number; tail: string } {
  const m = /\n\[… (\d+) bytes cut …\]\n/.exec(text);
  if (!m) throw new Error(`no marker in ${JSON.stringify(text)}`);
  return { head: text.slice(0, m.index), dropped: Number(m[1]), tail: text.slice(m.index + m[0].length) };
}

describe("truncateText", () => {
  test("keeps text within the limit as it is, and empty text as null", () => {
    expect(truncateText("all of it", 9)).toEqual({ text: "all of it", truncated: false });
    expect(truncateText("€€€", 9)).toEqual({ text: "€€€", truncated: false });
    expect(truncateText("", 10)).toEqual({ text: null, truncated: false });
    expect(truncateText(null, 10)).toEqual({ text: null, truncated: false });
  });

  test("keeps the first and the last half of the limit, with the number of bytes cut between them", () => {
    const text = `BEGIN${"x".repeat(1000)}END`;
    const { text: cut, truncated } = truncateText(text, 20);
    expect(truncated).toBe(true);
    expect(cut).toBe(`BEGINxxxxx${cutMarker(1008 - 20)}xxxxxxxEND`);
  });

  test("an odd limit gives the tail the extra byte", () => {
    expect(truncateText("0123456789", 5)).toEqual({ text: `01${cutMarker(5)}789`, truncated: true });
  });

  test("never keeps more than the limit nor splits a character, for 2,000 random texts of 1- to 4-byte characters", () => {
    const rand = random(7);
    for (let i = 0; i < 2000; i++) {
      const limit = 1 + rand(60);
      const text = Array.from({ length: rand(80) }, () => ALPHABET[rand(ALPHABET.length)]).join("");
      const { text: cut, truncated } = truncateText(text, limit);
      const total = bytesOf(text);
      const story = { limit, text };
      expect({ ...story, truncated }).toEqual({ ...story, truncated: total > limit });
      if (!truncated) {
        expect({ ...story, cut }).toEqual({ ...story, cut: text === "" ? null : text });
        continue;
      }
      const { head, dropped, tail } = parts(cut!);
      // Head and tail are the text's own start and end: no replacement character where a cut fell.
      expect({ ...story, head: text.startsWith(head), tail: text.endsWith(tail) }).toEqual({ ...story, head: true, tail: true });
      expect({ ...story, head: bytesOf(head) <= Math.floor(limit / 2), tail: bytesOf(tail) <= limit - Math.floor(limit / 2) }).toEqual({ ...story, head: true, tail: true });
      // Whole characters only: a character split by a cut is counted as cut.
      expect({ ...story, dropped }).toEqual({ ...story, dropped: total - bytesOf(head) - bytesOf(tail) });
      expect({ ...story, kept: bytesOf(head) + bytesOf(tail) > Math.floor(limit / 2) + (limit - Math.floor(limit / 2)) - 8 }).toEqual({ ...story, kept: true });
    }
  });

  test("a 4-byte character on both cuts is dropped whole, not left as replacement characters", () => {
    const text = `ab😀${"-".repeat(20)}😀cd`;
    // Head 4 bytes: "ab" and half of 😀; tail 5 bytes: the last 3 bytes of 😀 and "cd".
    expect(truncateText(text, 9)).toEqual({ text: `ab${cutMarker(bytesOf(text) - 4)}cd`, truncated: true });
  });
});

describe("readHeadTail", () => {
  test("keeps the same head and tail as cutting the whole body, for 500 random bodies and chunkings", async () => {
    const rand = random(42);
    for (let i = 0; i < 500; i++) {
      const limit = 1 + rand(300);
      const length = rand(4) === 0 ? rand(limit + 1) : rand(limit * 5);
      const text = Array.from({ length }, () => (rand(3) === 0 ? ALPHABET[rand(ALPHABET.length)] : String.fromCharCode(97 + rand(26)))).join("");
      const bytes = utf8(text);
      // Small chunks, chunks larger than the whole limit, and one chunk with everything.
      const mode = rand(3);
      const got = await readHeadTail(chunksOf(bytes, () => (mode === 0 ? 1 + rand(7) : mode === 1 ? limit + rand(limit * 3) : bytes.length)), limit);
      const want = truncateText(text, limit);
      expect({ limit, length, got }).toEqual({ limit, length, got: { body: want.text, truncated: want.truncated } });
    }
  });

  test("a 64 MB body in 8 MB chunks is cut to head and tail", async () => {
    const chunk = new Uint8Array(8 * 1024 * 1024).fill(0x61);
    async function* body() {
      yield utf8("BEGIN");
      for (let i = 0; i < 8; i++) yield chunk;
      yield utf8("END");
    }
    const { body: text, truncated } = await readHeadTail(body(), 1024);
    expect(truncated).toBe(true);
    expect(text).toStartWith("BEGIN");
    expect(text).toEndWith("END");
    expect(text!.length).toBeLessThan(1024 + 40);
  });
});

describe("HeadTail", () => {
  test("holds copies of what it keeps: a chunk the caller reuses does not change the head or the tail", () => {
    const kept = new HeadTail(8);
    const buffer = utf8("abcdefgh");
    kept.push(buffer);
    buffer.fill(0x2d);
    kept.push(buffer.subarray(0, 2));
    kept.push(utf8("yz"));
    expect(kept.truncated).toBe(true);
    // 12 bytes came, 8 are kept.
    expect(kept.text()).toBe(`abcd${cutMarker(4)}--yz`);
  });

  test("keeps everything, in order, while it fits", () => {
    const kept = new HeadTail(10);
    for (const part of ["ab", "€", "cde"]) kept.push(utf8(part));
    expect(kept.truncated).toBe(false);
    expect(kept.text()).toBe("ab€cde");
  });
});

describe("Tail", () => {
  test("keeps the last bytes, from the start of a whole character", () => {
    const tail = new Tail(4);
    for (const part of ["first line\n", "ab", "€", "cd"]) tail.push(utf8(part));
    // The last 4 bytes are the end of "€" and "cd": the broken character goes.
    expect(tail.text()).toBe("cd");
    const short = new Tail(10);
    short.push(utf8("a€b"));
    expect(short.text()).toBe("a€b");
  });
});

describe("splitAtCut", () => {
  test("finds the cut in 2,000 random cut texts, also when the text prints the marker's words itself", () => {
    const rand = random(11);
    const fake = cutMarker(99);
    for (let i = 0; i < 2000; i++) {
      const limit = 40 + rand(200);
      const words = Array.from({ length: rand(400) }, () => ALPHABET[rand(ALPHABET.length)]).join("");
      // The command's own output may hold the marker's words, at its start, its end or both.
      const text = [rand(2) ? fake : "", words, rand(2) ? fake : ""].join("");
      const { text: cut, truncated } = truncateText(text, limit);
      const story = { limit, text };
      if (!truncated) {
        expect({ ...story, split: splitAtCut(cut ?? "") }).toEqual({ ...story, split: null });
        continue;
      }
      const split = splitAtCut(cut!);
      expect({ ...story, head: text.startsWith(split!.head), tail: text.endsWith(split!.tail) }).toEqual({ ...story, head: true, tail: true });
      expect({ ...story, dropped: split!.dropped }).toEqual({ ...story, dropped: Buffer.byteLength(text) - bytesOf(split!.head) - bytesOf(split!.tail) });
    }
  });

  test("an output that was not cut has no cut, even when it prints the marker", () => {
    expect(splitAtCut(`starting\n${cutMarker(5)}a much longer rest of the output than its start`)).toBeNull();
    expect(splitAtCut("plain output")).toBeNull();
  });
});
