// The monitoring engine keeps the state of busy jobs in memory and writes it back about once a
// second. A write to a job (PUT, PATCH, pause, delete…) must see that state and must not be
// overwritten by it later, so it asks the holder registered for the database to write the
// job back first, and to forget it afterwards.
import type { Db } from "../db";

export interface JobStateHolder {
  writeBack(jobId: string): void;
  forget(jobId: string): void;
  /** The newest check-in of the job applied, when the holder is ahead of the job row. */
  newestCheckin?(jobId: string): number | null;
}

const holders = new WeakMap<Db, Set<JobStateHolder>>();

export function holdJobState(db: Db, holder: JobStateHolder): void {
  let set = holders.get(db);
  if (!set) holders.set(db, (set = new Set()));
  set.add(holder);
}

export function releaseJobState(db: Db, holder: JobStateHolder): void {
  holders.get(db)?.delete(holder);
}

export function beforeJobWrite(db: Db, jobId: string): void {
  for (const h of holders.get(db) ?? []) h.writeBack(jobId);
}

export function afterJobWrite(db: Db, jobId: string): void {
  for (const h of holders.get(db) ?? []) h.forget(jobId);
}

/** The newest check-in applied to a job: the job row's, or a holder's when it is ahead. */
export function newestCheckin(db: Db, jobId: string, stored: number | null): number | null {
  let newest = stored;
  for (const h of holders.get(db) ?? []) {
    const id = h.newestCheckin?.(jobId) ?? null;
    if (id !== null && (newest === null || id > newest)) newest = id;
  }
  return newest;
}
