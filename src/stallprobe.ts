// Experiment only: reports sections that hold the event loop longer than X_STALL_MS.
const limit = Number(process.env.X_STALL_MS ?? 0);
export function probe<T>(label: string, f: () => T): T {
  if (!limit) return f();
  const t = performance.now();
  try { return f(); } finally { const d = performance.now() - t; if (d > limit) console.error(`STALL ${label} ${d.toFixed(1)} ms`); }
}
