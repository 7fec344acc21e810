// A small client of GET /api/v1/events (or the console's /events) for tests and benchmarks: reads the stream as a browser's
// EventSource would (fields, comments, ids) and lets a test wait for the event it expects.

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
  /** When it was read: performance.now(), and the wall clock (Date.now()). */
  at: number;
  wall: number;
}

export interface SseStream {
  status: number;
  response: Response;
  messages: SseMessage[];
  /** Comment lines (`: heartbeat`). */
  comments: string[];
  /** The last id seen (what EventSource would send as Last-Event-ID). */
  lastId: string | null;
  /** Waits for a message matching `match` (already read or still to come). */
  next(match: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  /** Resolves when the server ends the stream: "end" (cleanly) or "error" (dropped). */
  ended: Promise<"end" | "error">;
  close(): void;
}

export const dataOf = <T = Record<string, unknown>>(m: SseMessage) => JSON.parse(m.data) as T;

export interface OpenInit {
  token?: string;
  cookie?: string;
  lastEventId?: string;
  /** Called with every message as it is read. */
  onMessage?: (m: SseMessage) => void;
  /** Keep every message in `messages` (default true; a benchmark reading for long says false). */
  keep?: boolean;
  /** The stream's path and query (default the API's, /api/v1/events; the console's is /events). */
  path?: string;
}

export async function openEvents(baseUrl: string, init: OpenInit = {}): Promise<SseStream> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.cookie = init.cookie;
  if (init.lastEventId) headers["last-event-id"] = init.lastEventId;
  const keep = init.keep ?? true;
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}${init.path ?? "/api/v1/events"}`, { headers, signal: abort.signal, redirect: "manual" });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const stream: SseStream = {
    status: response.status,
    response,
    messages,
    comments,
    lastId: null,
    ended: Promise.resolve("end"),
    next(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = messages.find(match);
          if (!m) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const check = () => void look();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms; got ${messages.map((m) => m.event).join(", ") || "none"}`));
        }, timeoutMs);
        if (!look()) waiters.add(check);
      });
    },
    close: () => abort.abort(),
  };
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    return stream;
  }
  const reader = response.body.getReader();
  stream.ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    let msg = { event: "", data: [] as string[] };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "end";
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (msg.event || msg.data.length) {
              const m = { event: msg.event || "message", data: msg.data.join("\n"), id: stream.lastId, at: performance.now(), wall: Date.now() };
              if (keep) messages.push(m);
              init.onMessage?.(m);
            }
            msg = { event: "", data: [] };
            for (const w of [...waiters]) w();
            continue;
          }
          if (line.startsWith(":")) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") msg.event = value;
          else if (field === "data") msg.data.push(value);
          else if (field === "id") stream.lastId = value;
        }
      }
    } catch {
      return abort.signal.aborted ? "end" : "error";
    }
  })();
  return stream;
}
