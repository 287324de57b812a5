/**
 * The fetch the generated client uses: adds the bearer token and X-Workspace-ID, and on a 401
 * refreshes the JWT pair once and retries the request once.
 *
 * Refresh tokens rotate and the old one is blacklisted, so two refreshes racing with the same token
 * would sign the user out: concurrent 401s share one refresh (single flight), and a request whose
 * token was already replaced simply retries with the new one.
 */
import type { TokenStore } from "./tokens";

export const API_PREFIX = "/api/v1/";
export const REFRESH_PATH = `${API_PREFIX}auth/refresh/`;

/** Paths that carry the workspace themselves, or that act for the person rather than a workspace. */
const NO_WORKSPACE_HEADER = [`${API_PREFIX}auth/`, `${API_PREFIX}workspaces`, `${API_PREFIX}invitations/`];
/** Credential endpoints: a 401 there is an answer (wrong password, bad token), not an expired session. */
const NO_REFRESH = [`${API_PREFIX}auth/login`, `${API_PREFIX}auth/register`, `${API_PREFIX}auth/refresh`,
  `${API_PREFIX}auth/logout`];

function pathOf(url: string): string {
  return new URL(url, "http://localhost").pathname;
}

/** Header-routed endpoints (API keys, later campaigns…) need X-Workspace-ID; `/workspaces/{id}/…` must not
 * get one, since the API refuses a header that names a different workspace than the path. */
export function needsWorkspaceHeader(url: string): boolean {
  const path = pathOf(url);
  return path.startsWith(API_PREFIX) && !NO_WORKSPACE_HEADER.some((prefix) => path.startsWith(prefix));
}

export function mayRefreshFor(url: string): boolean {
  const path = pathOf(url);
  return !NO_REFRESH.some((prefix) => path.startsWith(prefix));
}

export interface AuthFetchOptions {
  tokens: TokenStore;
  workspaceId: () => string | null;
  fetch?: (request: Request) => Promise<Response>;
  /** Called when the refresh token is refused: the session is over. */
  onSessionExpired?: () => void;
}

export function createAuthFetch(options: AuthFetchOptions): (request: Request) => Promise<Response> {
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  let refreshing: Promise<string | null> | null = null;

  function decorate(request: Request, access: string | null): Request {
    const headers = new Headers(request.headers);
    if (access) headers.set("Authorization", `Bearer ${access}`);
    const workspace = options.workspaceId();
    if (workspace && !headers.has("X-Workspace-ID") && needsWorkspaceHeader(request.url)) {
      headers.set("X-Workspace-ID", workspace);
    }
    return new Request(request, { headers });
  }

  async function refreshOnce(refreshToken: string, refreshUrl: string): Promise<string | null> {
    const response = await send(
      new Request(refreshUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh: refreshToken }),
      }),
    );
    if (!response.ok) {
      // Only a refusal ends the session; a 5xx or 429 leaves the tokens for the next attempt.
      if (response.status === 401 || response.status === 400) {
        options.tokens.clear();
        options.onSessionExpired?.();
      }
      return null;
    }
    const body = (await response.json()) as { access?: unknown; refresh?: unknown };
    if (typeof body.access !== "string" || typeof body.refresh !== "string") return null;
    options.tokens.set({ access: body.access, refresh: body.refresh });
    return body.access;
  }

  function freshAccess(refreshToken: string, failedUrl: string): Promise<string | null> {
    if (!refreshing) {
      refreshing = refreshOnce(refreshToken, new URL(REFRESH_PATH, failedUrl).toString()).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  return async function authFetch(request: Request): Promise<Response> {
    const sentWith = options.tokens.get();
    const canRetry = sentWith !== null && mayRefreshFor(request.url);
    // Keep an unread copy of the body for the retry.
    const spare = canRetry ? request.clone() : null;
    const response = await send(decorate(request, sentWith?.access ?? null));
    if (response.status !== 401 || !spare || !sentWith) return response;

    const now = options.tokens.get();
    let access: string | null;
    if (now && now.access !== sentWith.access) {
      access = now.access; // another request already refreshed while this one was in flight
    } else if (now) {
      access = await freshAccess(now.refresh, request.url);
    } else {
      access = null; // signed out meanwhile
    }
    if (!access) return response;
    return send(decorate(spare, access));
  };
}
