import { TooManyRequests } from "./errors";

/**
 * Fixed-window counters kept in memory: enough for one process, and cheap on hot paths.
 * `hit` throws TooManyRequests once `limit` is passed within `windowMs`.
 */
export type Window = { start: number; count: number };

export class RateLimiter {
  private windows = new Map<string, Window>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly message = "too many requests",
  ) {}

  /**
   * `holder`: an object kept between hits (a cached lookup result) that keeps the key's window,
   * so hot paths find it without searching the map.
   */
  hit(key: string, now = Date.now(), holder?: { window?: Window }): void {
    let w = holder?.window ?? this.windows.get(key);
    if (!w) {
      if (this.windows.size > 100_000) this.sweep(now);
      this.windows.set(key, (w = { start: now, count: 0 }));
    } else if (now - w.start >= this.windowMs) {
      w.start = now;
      w.count = 0;
    }
    if (holder) holder.window = w;
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
