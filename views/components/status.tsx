// A job's status as every page shows it: colour, a shape (console.css) and the word. The element
// carries data-job-status, which scripts and tests read.
import type { JobStatus } from "../../src/jobs/types";

export function StatusBadge({ status }: { status: JobStatus }) {
  return (
    <span class="status" data-job-status={status}>
      {status}
    </span>
  );
}
