// Hosts for the agents pages' tests, through the real agent protocol (docs/agent-protocol.md), as
// `crontopus agent` speaks it: enroll with an enrollment token, fetch the desired state, report
// what was applied and the unmanaged crontab lines found.
import { expect } from "bun:test";
import type { TestServer } from "../helpers";

export interface Host {
  id: string;
  name: string;
  /** The agent's own token (cta_…). */
  token: string;
}

export type Discovered = { id: string; user?: string | null; schedule: string; command: string; line: string };

/** A crontab line as the agent reports it. */
export const line = (id: string, schedule: string, command: string, user: string | null = "root"): Discovered => ({ id, user, schedule, command, line: `${schedule} ${command}` });

/** Enrolls a host with an enrollment token (cte_…) through POST /api/v1/agent/enroll. */
export async function enrollHost(s: TestServer, enrollmentToken: string, hostname: string, extra: Record<string, unknown> = {}): Promise<Host> {
  const r = await s.api("/api/v1/agent/enroll", {
    method: "POST",
    json: { token: enrollmentToken, hostname, platform: "linux", arch: "x64", os_version: "Debian 12", scheduler: "crontab", version: "0.1.0", machine_id: `m-${hostname.length}-${Bun.hash(hostname)}`, ...extra },
  });
  expect(r.status).toBe(201);
  const body = (await r.json()) as { agent: { id: string; name: string }; token: string };
  return { id: body.agent.id, name: body.agent.name, token: body.token };
}

/** The desired state's jobs, by "namespace/name". */
export async function desiredJobs(s: TestServer, host: Host): Promise<Record<string, { id: string; adopted_from: string[] }>> {
  const r = await s.api("/api/v1/agent/desired-state", { token: host.token });
  expect(r.status).toBe(200);
  const { jobs } = (await r.json()) as { jobs: { id: string; namespace: string; name: string; adopted_from: string[] }[] };
  return Object.fromEntries(jobs.map((j) => [`${j.namespace}/${j.name}`, j]));
}

/** Reports a pass: a state per job ("ns/name" of the desired state) and, when given, the unmanaged lines. */
export async function reportPass(s: TestServer, host: Host, states: Record<string, { state: string; message?: string }>, discovered?: Discovered[]): Promise<void> {
  const desired = await desiredJobs(s, host);
  const jobs = Object.entries(states).map(([ref, st]) => ({ job_id: desired[ref]!.id, ...st }));
  const r = await s.api("/api/v1/agent/report", { method: "POST", token: host.token, json: { jobs, ...(discovered ? { discovered } : {}) } });
  expect(r.status).toBe(200);
}
