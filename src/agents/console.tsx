// The agents pages of the console: the list (/agents), an agent's page (/agents/<id or name>) with
// its job instances and the entries to adopt, editing and deleting an agent, and "Add an agent"
// (/agents/new), which makes an enrollment token and shows its install commands once. Each route
// calls the agents services with the roles the API needs for the same call (src/agents/api.ts):
// reading takes read, adopting and editing write, adding and deleting admin.
import type { AppContext } from "../context";
import { Conflict, Invalid } from "../errors";
import { requireScope, type Principal } from "../auth/principal";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { labelLines, labelsFromLines } from "../console/labels";
import { AGENT_STATUSES, type Agent, type AgentDetail, type AgentStatus } from "./model";
import { deleteAgent, findAgent, patchAgent } from "./registry";
import { agentDetail, listAgentSummaries } from "./detail";
import { adoptEntry, adoptionRefused } from "./adoption";
import { createEnrollmentToken } from "./enrollment";
import { installCommands } from "./install";
import { AddAgentPage, AgentAddedPage, AgentsPage, agentHref, type AddAgentValues } from "../../views/agents";
import { AgentEditPage, AgentPage, DeleteAgentPage, type AdoptForm, type AgentEditValues } from "../../views/agent";
import type { FieldErrors } from "../../views/components/form";

const can = (viewer: Principal | null, scope: "write" | "admin") => !!viewer?.scopes.includes(scope);

/** A whole number typed in a form; empty is left out (the service's default), anything else is the service's to refuse. */
const numberOf = (text: string): number | undefined => (text.trim() === "" ? undefined : Number(text.trim()));

/**
 * A service's error on one of a form's fields: under its field (a label's under Labels, with its
 * key), or above the form when it names no field of it. Null when it is no such error.
 */
function formErrorsOf(e: unknown, fields: readonly string[]): { errors: FieldErrors; alert?: string } | null {
  const byField = fieldErrors(e);
  if (!byField) return null;
  const errors: FieldErrors = {};
  let alert: string | undefined;
  for (const [path, message] of Object.entries(byField)) {
    const name = path.split(".")[0]!;
    if (!fields.includes(name)) alert ??= message;
    // A label's error names its key: "bad key!: is not a valid label key …".
    else errors[name] ??= name === "labels" && path !== "labels" ? `${path.slice("labels.".length)}: ${message.charAt(0).toLowerCase()}${message.slice(1)}` : message;
  }
  return { errors, alert };
}

/** Agents a page of the list: a row is about 1 KB, so a full page is 53 KB of HTML, 117 KB with the assets (the limit is 150). */
const PAGE = 50;

const EMPTY_ADD: AddAgentValues = { name: "", labels: "", max_uses: "", expires_in_days: "7" };

export function agentsConsole(ctx: AppContext) {
  const { db } = ctx;

  /** An agent's page: its detail, what can be adopted, and the adopt form that came back. */
  const agentPage = (viewer: Principal, agent: AgentDetail, adopt?: AdoptForm, all = false) => {
    const refused: Record<string, string> = {};
    for (const d of agent.discovered) {
      const why = d.adopted_job_id ? null : adoptionRefused(d);
      if (why) refused[d.id] = why;
    }
    return { agent, now: ctx.now(), refused, adopt, canWrite: can(viewer, "write"), canAdmin: can(viewer, "admin"), all };
  };

  const editValuesOf = (agent: Agent): AgentEditValues => ({ name: agent.name, labels: labelLines(agent.labels), interval_s: String(agent.interval_s) });

  return (
    consoleGroup(ctx, "tenant")
      .get("/agents", ({ query, viewer, shell }) => {
        const tenantId = requireScope(viewer, "read").tenantId;
        const q = query as Record<string, string | undefined>;
        const status = q.status ?? "";
        if (status && !(AGENT_STATUSES as readonly string[]).includes(status)) throw new Invalid("status", `must be one of ${AGENT_STATUSES.join(", ")}`);
        const after = q.after ?? "";
        const { agents, next } = listAgentSummaries(db, tenantId, { status: (status || undefined) as AgentStatus | undefined, after: after || undefined, limit: PAGE });
        return page(AgentsPage({ shell, list: { status: status as "" | AgentStatus, after, agents, next, canAdd: can(viewer, "admin"), now: ctx.now() } }));
      })

      // Add an agent: an enrollment token, and the commands that install an agent with it.
      .get("/agents/new", ({ viewer, shell }) => {
        requireScope(viewer, "admin");
        return page(AddAgentPage({ shell, values: EMPTY_ADD, errors: {} }));
      })
      .post("/agents/new", ({ body, viewer, shell }) => {
        const p = requireScope(viewer, "admin");
        const values: AddAgentValues = { name: field(body, "name"), labels: field(body, "labels"), max_uses: field(body, "max_uses"), expires_in_days: field(body, "expires_in_days") };
        try {
          const input = { name: values.name, labels: labelsFromLines("labels", values.labels), max_uses: numberOf(values.max_uses), expires_in_days: numberOf(values.expires_in_days) };
          const { token, enrollment_token } = createEnrollmentToken(db, p.tenantId, p.userId, input, ctx.now());
          // The secret is in this answer only (the page is no-store); the database keeps its hash.
          return page(AgentAddedPage({ shell, token: enrollment_token, commands: installCommands(ctx.config.baseUrl, token) }), 201);
        } catch (e) {
          const shown = formErrorsOf(e, ["name", "labels", "max_uses", "expires_in_days"]);
          if (!shown) throw e;
          return page(AddAgentPage({ shell, values, ...shown }), 422);
        }
      })

      // An agent.
      .get("/agents/:id", ({ params, query, viewer, shell }) => {
        const tenantId = requireScope(viewer, "read").tenantId;
        const all = (query as Record<string, string | undefined>).all === "1";
        return page(AgentPage({ shell, view: agentPage(viewer!, agentDetail(db, tenantId, params.id), undefined, all) }));
      })
      .post("/agents/:id/discovered/:entry/adopt", ({ params, body, request, viewer, shell, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const values = { namespace: field(body, "namespace").trim(), name: field(body, "name").trim(), timezone: field(body, "timezone").trim() };
        try {
          const input = { name: values.name, namespace: values.namespace || undefined, timezone: values.timezone || undefined };
          const { job, warnings } = adoptEntry(db, tenantId, params.id, params.entry, input, ctx.now());
          const text = `Adopted as ${job.namespace}/${job.name}: the agent swaps the line for the managed entry on its next pass.${warnings.length ? ` ${warnings.join("; ")}.` : ""}`;
          flash(ctx, set, { kind: warnings.length ? "info" : "ok", text });
          return hxRedirect(request, `/jobs/${job.namespace}/${job.name}`);
        } catch (e) {
          let shown: { errors: FieldErrors; alert?: string } | null;
          const agent = () => agentDetail(db, tenantId, params.id);
          if (e instanceof Conflict) {
            // Adopted meanwhile (by another tab, the CLI), or a job of that name exists.
            const adopted = !!agent().discovered.find((d) => d.id === params.entry)?.adopted_job_id;
            shown = adopted ? { errors: {}, alert: "This entry was adopted already." } : { errors: { name: "A job of this name exists in this namespace already." } };
          } else shown = formErrorsOf(e, ["namespace", "name", "timezone"]);
          if (!shown) throw e;
          return page(AgentPage({ shell, view: agentPage(viewer!, agent(), { entryId: params.entry, values, ...shown }) }), e instanceof Conflict ? 409 : 422);
        }
      })

      // Edit: rename, relabel, the heartbeat interval.
      .get("/agents/:id/edit", ({ params, viewer, shell }) => {
        const agent = findAgent(db, requireScope(viewer, "write").tenantId, params.id);
        return page(AgentEditPage({ shell, agent, values: editValuesOf(agent), errors: {} }));
      })
      .post("/agents/:id/edit", ({ params, body, request, viewer, shell, set }) => {
        const tenantId = requireScope(viewer, "write").tenantId;
        const values: AgentEditValues = { name: field(body, "name").trim(), labels: field(body, "labels"), interval_s: field(body, "interval_s") };
        try {
          const patch = { name: values.name, labels: labelsFromLines("labels", values.labels), interval_s: numberOf(values.interval_s) };
          const agent = patchAgent(db, tenantId, params.id, patch, ctx.now());
          flash(ctx, set, { kind: "ok", text: `Saved ${agent.name}.` });
          return hxRedirect(request, agentHref(agent));
        } catch (e) {
          const shown = e instanceof Conflict ? { errors: { name: "An agent of this name exists in this tenant already." } } : formErrorsOf(e, ["name", "labels", "interval_s"]);
          if (!shown) throw e;
          const agent = findAgent(db, tenantId, params.id);
          return page(AgentEditPage({ shell, agent, values, ...shown }), 422);
        }
      })

      // Delete (forget), after asking.
      .get("/agents/:id/delete", ({ params, viewer, shell }) => {
        const agent = findAgent(db, requireScope(viewer, "admin").tenantId, params.id);
        return page(DeleteAgentPage({ shell, agent }));
      })
      .post("/agents/:id/delete", ({ params, request, viewer, set }) => {
        const agent = deleteAgent(db, requireScope(viewer, "admin").tenantId, params.id);
        flash(ctx, set, { kind: "ok", text: `Deleted ${agent.name}: its token is revoked. The host keeps its entries until crontopus agent uninstall is run there.` });
        return hxRedirect(request, "/agents");
      })
  );
}
