// The tenant's jobs as manifest files, one per job at <namespace>/<name>.yaml: the starting
// tree of a GitOps repository (docs/api.md, "Export"). Connecting that tree gives a plan of
// only `adopt`, since each file is the job's own canonical manifest (manifestYaml).
import type { Db } from "../db";
import { listJobs, type Job } from "./jobs";
import { manifestYaml } from "./manifest";

export interface ExportedFile {
  /** `<namespace>/<name>.yaml`, relative to the export's directory. */
  path: string;
  content: string;
}

export function exportPath(job: Pick<Job, "namespace" | "name">): string {
  return `${job.namespace}/${job.name}.yaml`;
}

/** Every job of the tenant (or of one namespace), ordered by namespace and name. */
export function exportJobs(db: Db, tenantId: string, namespace?: string): ExportedFile[] {
  const files: ExportedFile[] = [];
  let cursor: string | undefined;
  do {
    const page = listJobs(db, tenantId, { namespace, limit: 500, cursor });
    for (const job of page.jobs) files.push({ path: exportPath(job), content: manifestYaml(job) });
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return files;
}
