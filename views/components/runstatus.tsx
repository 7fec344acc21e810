// A run's status (running, success, failed, timeout): colour, a shape (console.css) and the word,
// like a job's status but on data-run-status; data-job-status is for jobs' current status only.
export function RunStatus({ status }: { status: string }) {
  return (
    <span class="status run-status" data-run-status={status} safe>
      {status}
    </span>
  );
}
