// What the event stream says about a changed job, run or agent: each as the API presents it
// (src/jobs/json.ts, src/runs/json.ts, src/agents/json.ts), read once per window by the hub
// whatever the number of subscribers. A job's live state comes from JobStates, in memory (no row
// to read); a run and an agent are read by id, scoped to the tenant.
import type { Db } from "../db";
import { NotFound } from "../errors";
import { jobStates } from "../monitor/states";
import { jobStatusJson } from "../jobs/json";
import { findRun } from "../runs/runs";
import { runJson } from "../runs/json";
import { getAgent } from "../agents/registry";
import { agentJson } from "../agents/json";
import type { Feed } from "./hub";

export function eventFeed(db: Db): Feed {
  const states = jobStates(db);
  return {
    job(tenantId, jobId) {
      const h = states.load(jobId);
      if (!h || h.job.tenant_id !== tenantId) return null;
      // The counters as held, the status as the state machine has it now.
      return jobStatusJson({ ...h.job, ...h.state });
    },
    run(tenantId, runId) {
      const run = findRun(db, tenantId, runId);
      return run && runJson(run);
    },
    agent(tenantId, agentId) {
      try {
        return agentJson(getAgent(db, tenantId, agentId));
      } catch (e) {
        // Deleted since it changed: its agent-deleted event follows.
        if (e instanceof NotFound) return null;
        throw e;
      }
    },
  };
}
