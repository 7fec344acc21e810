// The monitoring engine keeps the state of busy jobs in memory and writes it back about once a
// second. A write to a job (PUT, PATCH, pause, delete…) must see that state and must not be
// overwritten by it later, so it asks the holder registered for the database to write the
// job back first, and to forget it afterwards.
import type { Db } from "../db";

export interface JobStateHolder {
  writeBack(jobId: string): void;
  forget(jobId: string): void;
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
