// The monitoring engine keeps the state of busy jobs in memory and writes it back about once a
// second. A write to a job (PUT, PATCH, pause, delete…) must see that state and must not be
// overwritten by it later, so it asks the holder registered for the database to write the
// job back first, and to forget it afterwards.
import type { Db } from "../db";

export interface JobStateHolder {
  writeBack(jobId: string): void;
  forget(jobId: string): void;
}

const holders = new WeakMap<Db, JobStateHolder>();

export function holdJobState(db: Db, holder: JobStateHolder): void {
  holders.set(db, holder);
}

export function releaseJobState(db: Db, holder: JobStateHolder): void {
  if (holders.get(db) === holder) holders.delete(db);
}

export function beforeJobWrite(db: Db, jobId: string): void {
  holders.get(db)?.writeBack(jobId);
}

export function afterJobWrite(db: Db, jobId: string): void {
  holders.get(db)?.forget(jobId);
}
