/** The one API client: generated types (schema.d.ts from the OpenAPI schema) + openapi-fetch. */
import createClient from "openapi-fetch";
import { createAuthFetch } from "./authFetch";
import { ApiProblem, networkProblem, parseRetryAfter, toApiProblem } from "./errors";
import type { components, paths } from "./schema";
import { tokenStore } from "./tokens";
import { workspaceSelection } from "./workspaceSelection";

export type Schemas = components["schemas"];
export type Workspace = Schemas["Workspace"];
export type Member = Schemas["Member"];
export type Invitation = Schemas["Invitation"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type AuditEntry = Schemas["AuditLog"];
export type User = Schemas["User"];
export type Role = Schemas["RoleEnum"];
export type InviteRole = Schemas["InvitableRoleEnum"];
export type Scope = Schemas["ScopesEnum"];

export const api = createClient<paths>({
  fetch: createAuthFetch({ tokens: tokenStore, workspaceId: () => workspaceSelection.get() }),
});

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits a client call and returns its data, or throws an ApiProblem built from the error shape. */
export async function call<T>(pending: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await pending;
  } catch (error) {
    if (error instanceof ApiProblem) throw error;
    throw networkProblem();
  }
  if (!outcome.response.ok) {
    throw toApiProblem(outcome.response.status, outcome.error, parseRetryAfter(outcome.response.headers.get("Retry-After")));
  }
  return outcome.data as T;
}
