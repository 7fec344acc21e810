// Output too long to keep: its first and its last half, with a marker between them saying how
// many bytes were cut (errors are usually at the end, what ran at the start). Written once for
// a ping body read as a stream (checkins/ping.ts), an API check-in's output (checkins.ts) and
// the output of a command under `crontopus exec` (agent/exec.ts); `Tail` keeps only the end,
// for exec's ping-URL mode. Streaming never holds more than the limit, whatever the chunks.
// Cuts fall on UTF-8 character boundaries: a character split by a cut is dropped whole.

/** The marker between the head and the tail. */
export function cutMarker(dropped: number): string {
  return `\n[… ${dropped} bytes cut …]\n`;
}

const MARKER = /\n\[… (\d+) bytes cut …\]\n/g;

/**
 * A cut output taken apart again (the console marks the cut): its head, the number of bytes cut
 * and its tail; null when no marker stands where a cut falls. The real marker sits where the head
 * ends, half the limit in, so the head and the tail are the same size give or take the bytes of a
 * character trimmed at each cut and the odd limit's extra byte for the tail: the marker's words
 * printed by the command itself, elsewhere in its output, are not taken for the cut.
 */
export function splitAtCut(text: string): { head: string; dropped: number; tail: string } | null {
  for (const m of text.matchAll(MARKER)) {
    const head = text.slice(0, m.index);
    const tail = text.slice(m.index + m[0].length);
    const skew = Buffer.byteLength(tail, "utf8") - Buffer.byteLength(head, "utf8");
    if (skew >= -3 && skew <= 4) return { head, dropped: Number(m[1]), tail };
  }
  return null;
}

// A leading U+FEFF is the output's own: kept, as Buffer#toString keeps it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Keeps the last `limit` bytes of a stream in a ring of that size. */
class Ring {
  private buf: Uint8Array | null = null;
  private end = 0; // where the next byte goes
  private length = 0;

  constructor(readonly limit: number) {}

  push(chunk: Uint8Array): void {
    const cap = this.limit;
    if (chunk.length === 0 || cap === 0) return;
    this.buf ??= new Uint8Array(cap);
    if (chunk.length >= cap) chunk = chunk.subarray(chunk.length - cap);
    const first = Math.min(chunk.length, cap - this.end);
    this.buf.set(chunk.subarray(0, first), this.end);
    this.buf.set(chunk.subarray(first), 0);
    this.end = (this.end + chunk.length) % cap;
    this.length = Math.min(cap, this.length + chunk.length);
  }

  /** The bytes kept, oldest first: the oldest sits at `end` once the ring is full. */
  bytes(): Uint8Array {
    if (this.buf === null) return new Uint8Array(0);
    if (this.length < this.limit) return this.buf.subarray(0, this.length);
    return Buffer.concat([this.buf.subarray(this.end), this.buf.subarray(0, this.end)]);
  }
}

/** Keeps the first and the last half of `limit` bytes of a stream; what lies between is counted, not kept. */
export class HeadTail {
  private readonly half: number;
  private readonly head: Uint8Array[] = [];
  private headSize = 0;
  private readonly tail: Ring;
  private total = 0;

  constructor(readonly limit: number) {
    this.half = Math.floor(limit / 2);
    this.tail = new Ring(limit - this.half);
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.headSize < this.half) {
      // A copy: the caller may reuse its buffer, and a large chunk must not be kept whole.
      const take = chunk.slice(0, this.half - this.headSize);
      this.head.push(take);
      this.headSize += take.length;
      chunk = chunk.subarray(take.length);
    }
    this.tail.push(chunk);
  }

  /** Whether more than `limit` bytes came. */
  get truncated(): boolean {
    return this.total > this.limit;
  }

  /** All of it when it fits; else head, marker, tail. */
  text(): string {
    const head = Buffer.concat(this.head);
    const tail = this.tail.bytes();
    if (!this.truncated) return decoder.decode(Buffer.concat([head, tail]));
    return joinCut(head, tail, this.total);
  }
}

/** Keeps the last `limit` bytes of a stream, from a character boundary. */
export class Tail {
  private readonly ring: Ring;
  private total = 0;

  constructor(limit: number) {
    this.ring = new Ring(limit);
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    this.ring.push(chunk);
  }

  text(): string {
    const bytes = this.ring.bytes();
    return decoder.decode(this.total > this.ring.limit ? bytes.subarray(charStart(bytes)) : bytes);
  }
}

/** A stream's head and tail (see HeadTail), holding no more than `limit` bytes while it reads. */
export async function readHeadTail(chunks: AsyncIterable<Uint8Array>, limit: number): Promise<{ body: string | null; truncated: boolean }> {
  const kept = new HeadTail(limit);
  for await (const chunk of chunks) kept.push(chunk);
  const text = kept.text();
  return { body: text.length ? text : null, truncated: kept.truncated };
}

/** Keeps at most `limit` bytes of UTF-8 text: its first and last half when it is longer. Empty text is null. */
export function truncateText(text: string | null, limit: number): { text: string | null; truncated: boolean } {
  if (text === null || text.length === 0) return { text: null, truncated: false };
  // A UTF-16 unit is at most 3 bytes of UTF-8: most outputs need no encoding to know they fit.
  if (text.length * 3 <= limit) return { text, truncated: false };
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= limit) return { text, truncated: false };
  const half = Math.floor(limit / 2);
  return { text: joinCut(bytes.subarray(0, half), bytes.subarray(bytes.length - (limit - half)), bytes.length), truncated: true };
}

/** Head (cut at its end) and tail (cut at its start) of `total` bytes, each trimmed to whole characters, with the marker. */
function joinCut(head: Uint8Array, tail: Uint8Array, total: number): string {
  const h = head.subarray(0, charEnd(head));
  const t = tail.subarray(charStart(tail));
  return `${decoder.decode(h)}${cutMarker(total - h.length - t.length)}${decoder.decode(t)}`;
}

/** Where the bytes stop once a character the cut after them split is taken off. */
function charEnd(b: Uint8Array): number {
  let i = b.length;
  // Back over at most three continuation bytes (10xxxxxx) to the last lead byte.
  while (i > 0 && b.length - i < 3 && (b[i - 1]! & 0xc0) === 0x80) i--;
  if (i === 0) return b.length;
  const lead = b[i - 1]!;
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return b.length - (i - 1) >= size ? b.length : i - 1;
}

/** Where the first whole character starts after a cut before the bytes: past at most three continuation bytes. */
function charStart(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  return i;
}
