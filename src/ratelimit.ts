import { TooManyRequests } from "./errors";

/**
 * Fixed-window counters kept in memory: enough for one process, and cheap on hot paths.
 * `hit` throws TooManyRequests once `limit` is passed within `windowMs`.
 */
export class RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly message = "too many requests",
  ) {}

  hit(key: string, now = Date.now()): void {
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      if (this.windows.size > 100_000) this.sweep(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count > this.limit) {
      throw new TooManyRequests(this.message, Math.ceil((w.start + this.windowMs - now) / 1000));
    }
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(now: number) {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}
