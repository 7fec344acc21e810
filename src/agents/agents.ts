// Agents: hosts enrolled with an enrollment token (cte_…) that then speak the agent protocol
// with their own token (cta_…); see docs/agent-protocol.md. Every surface (REST API, CLI, the
// console) calls the same service functions, one concern a file:
//   model.ts        the values the services return (Agent, EnrollmentToken, …) and the rows they are read from
//   registry.ts     finding, listing, renaming, relabelling, forgetting agents
//   enrollment.ts   enrollment tokens, and enrolling a host
//   desired.ts      which jobs go to which host; the desired state an agent fetches
//   liveness.ts     heartbeats, offline deadlines, the offline alert
//   reports.ts      what an agent applied, its discovered entries, drift alerts
//   detail.ts       an agent with what is on its host; a job's agents
//   adoption.ts     a discovered entry made a managed job
//   crosstenant.ts  the lookups that are cross-tenant on purpose (by secret token, the deadline sweep)
//   json.ts         the API's JSON of these values
export * from "./model";
export * from "./registry";
export * from "./enrollment";
export * from "./desired";
export * from "./liveness";
export * from "./reports";
export * from "./detail";
export * from "./adoption";
export { authenticateAgent } from "./crosstenant";
