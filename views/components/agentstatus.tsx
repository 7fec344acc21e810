// An agent's status (online, offline) and the state of a job instance on a host (applied, pending,
// drifted, error), as badges: colour, a shape (agents.css) and the word. data-agent-status and
// data-instance-state carry the word for scripts and tests; data-job-status is for jobs only.
import type { AgentStatus as Status, InstanceState as State } from "../../src/agents/model";

export function AgentStatus({ status }: { status: Status }) {
  return (
    <span class="status agent-status" data-agent-status={status}>
      {status}
    </span>
  );
}

export function InstanceState({ state }: { state: State | "pending" }) {
  return (
    <span class="status instance-state" data-instance-state={state}>
      {state}
    </span>
  );
}
