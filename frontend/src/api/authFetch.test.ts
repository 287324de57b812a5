import { describe, expect, it, vi } from "vitest";
import { memoryStorage } from "../lib/storedValue";
import { createAuthFetch, mayRefreshFor, needsWorkspaceHeader } from "./authFetch";
import { createTokenStore } from "./tokens";

const ORIGIN = "http://app.test";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** A fake API: access tokens in `valid` are accepted; refresh tokens rotate once each. */
function fakeServer(initialValid: string[], refreshable: Record<string, string>) {
  const valid = new Set(initialValid);
  const seen: { url: string; auth: string | null; workspace: string | null; body: string }[] = [];
  let refreshCalls = 0;
  const fetch = vi.fn(async (request: Request) => {
    const url = new URL(request.url);
    const body = await request.text();
    seen.push({ url: url.pathname, auth: request.headers.get("Authorization"), workspace: request.headers.get("X-Workspace-ID"), body });
    if (url.pathname === "/api/v1/auth/refresh/") {
      refreshCalls += 1;
      const { refresh } = JSON.parse(body) as { refresh: string };
      const next = refreshable[refresh];
      if (!next) return json(401, { error: { code: "token_invalid", message: "used", details: {} } });
      delete refreshable[refresh]; // rotation: the old refresh token is blacklisted
      valid.add(`access-${next}`);
      return json(200, { access: `access-${next}`, refresh: next });
    }
    const token = request.headers.get("Authorization")?.replace("Bearer ", "");
    if (!token || !valid.has(token)) return json(401, { error: { code: "not_authenticated", message: "no", details: {} } });
    return json(200, { ok: true, echo: body });
  });
  return { fetch, seen, refreshCalls: () => refreshCalls };
}

function setup(tokens: { access: string; refresh: string } | null, server: ReturnType<typeof fakeServer>, workspace: string | null = null) {
  const store = createTokenStore(memoryStorage());
  if (tokens) store.set(tokens);
  const onSessionExpired = vi.fn();
  const authFetch = createAuthFetch({ tokens: store, workspaceId: () => workspace, fetch: server.fetch, onSessionExpired });
  return { store, authFetch, onSessionExpired };
}

describe("createAuthFetch", () => {
  it("sends the bearer token and passes a good response through", async () => {
    const server = fakeServer(["a1"], {});
    const { authFetch } = setup({ access: "a1", refresh: "r1" }, server);
    const response = await authFetch(new Request(`${ORIGIN}/api/v1/auth/me/`));
    expect(response.status).toBe(200);
    expect(server.seen[0]?.auth).toBe("Bearer a1");
    expect(server.refreshCalls()).toBe(0);
  });

  it("refreshes once on 401, stores the rotated pair, and retries with the original body", async () => {
    const server = fakeServer([], { r1: "r2" });
    const { authFetch, store } = setup({ access: "expired", refresh: "r1" }, server);
    const response = await authFetch(
      new Request(`${ORIGIN}/api/v1/workspaces/`, { method: "POST", body: JSON.stringify({ name: "Acme" }) }),
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { echo: string }).echo).toBe('{"name":"Acme"}');
    expect(store.get()).toEqual({ access: "access-r2", refresh: "r2" });
    expect(server.seen.map((s) => s.url)).toEqual(["/api/v1/workspaces/", "/api/v1/auth/refresh/", "/api/v1/workspaces/"]);
    expect(server.seen[2]?.auth).toBe("Bearer access-r2");
  });

  it("shares one refresh between concurrent 401s (the refresh token rotates)", async () => {
    const server = fakeServer([], { r1: "r2" });
    const { authFetch, onSessionExpired } = setup({ access: "expired", refresh: "r1" }, server);
    const responses = await Promise.all(
      [1, 2, 3].map(() => authFetch(new Request(`${ORIGIN}/api/v1/auth/me/`))),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(server.refreshCalls()).toBe(1);
    expect(onSessionExpired).not.toHaveBeenCalled();
  });

  it("retries only once: a second 401 is returned as is", async () => {
    const store = createTokenStore(memoryStorage());
    store.set({ access: "expired", refresh: "r1" });
    // The refreshed token is not accepted either (e.g. the user was deactivated).
    const fetch = vi.fn(async (request: Request) =>
      new URL(request.url).pathname === "/api/v1/auth/refresh/" ? json(200, { access: "a2", refresh: "r2" }) : json(401, {}),
    );
    const authFetch = createAuthFetch({ tokens: store, workspaceId: () => null, fetch });
    const response = await authFetch(new Request(`${ORIGIN}/api/v1/auth/me/`));
    expect(response.status).toBe(401);
    expect(fetch).toHaveBeenCalledTimes(3); // request, refresh, one retry
  });

  it("signs out when the refresh token is refused", async () => {
    const server = fakeServer([], {});
    const { authFetch, store, onSessionExpired } = setup({ access: "expired", refresh: "blacklisted" }, server);
    const response = await authFetch(new Request(`${ORIGIN}/api/v1/auth/me/`));
    expect(response.status).toBe(401);
    expect(store.get()).toBeNull();
    expect(onSessionExpired).toHaveBeenCalledOnce();
  });

  it("does not refresh for credential endpoints or when signed out", async () => {
    const server = fakeServer([], { r1: "r2" });
    const { authFetch } = setup({ access: "expired", refresh: "r1" }, server);
    const login = await authFetch(new Request(`${ORIGIN}/api/v1/auth/login/`, { method: "POST", body: "{}" }));
    expect(login.status).toBe(401);
    expect(server.refreshCalls()).toBe(0);

    const anonymous = setup(null, server);
    const me = await anonymous.authFetch(new Request(`${ORIGIN}/api/v1/auth/me/`));
    expect(me.status).toBe(401);
    expect(server.refreshCalls()).toBe(0);
  });

  it("retries with the newer token when another request refreshed meanwhile", async () => {
    const store = createTokenStore(memoryStorage());
    store.set({ access: "old", refresh: "r1" });
    const fetch = vi.fn(async (request: Request) => {
      if (request.headers.get("Authorization") === "Bearer old") {
        store.set({ access: "new", refresh: "r2" }); // a parallel request finished its refresh first
        return json(401, {});
      }
      return json(200, {});
    });
    const authFetch = createAuthFetch({ tokens: store, workspaceId: () => null, fetch });
    const response = await authFetch(new Request(`${ORIGIN}/api/v1/api-keys/`));
    expect(response.status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(2); // no refresh call
  });

  it("adds X-Workspace-ID only to header-routed endpoints", async () => {
    const server = fakeServer(["a1"], {});
    const { authFetch } = setup({ access: "a1", refresh: "r1" }, server, "ws-1");
    await authFetch(new Request(`${ORIGIN}/api/v1/api-keys/`));
    await authFetch(new Request(`${ORIGIN}/api/v1/workspaces/ws-2/members/`));
    await authFetch(new Request(`${ORIGIN}/api/v1/api-keys/`, { headers: { "X-Workspace-ID": "explicit" } }));
    expect(server.seen.map((s) => s.workspace)).toEqual(["ws-1", null, "explicit"]);
  });
});

describe("path rules", () => {
  it("knows which paths take the workspace header", () => {
    expect(needsWorkspaceHeader("/api/v1/api-keys/")).toBe(true);
    expect(needsWorkspaceHeader("/api/v1/campaigns/?page=2")).toBe(true);
    expect(needsWorkspaceHeader("/api/v1/workspaces/")).toBe(false);
    expect(needsWorkspaceHeader("/api/v1/workspaces/abc/audit-log/")).toBe(false);
    expect(needsWorkspaceHeader("/api/v1/auth/me/")).toBe(false);
    expect(needsWorkspaceHeader("/api/v1/invitations/accept/")).toBe(false);
  });

  it("knows where a 401 means a wrong credential rather than an expired session", () => {
    expect(mayRefreshFor("/api/v1/auth/login/")).toBe(false);
    expect(mayRefreshFor("/api/v1/auth/refresh")).toBe(false);
    expect(mayRefreshFor("/api/v1/auth/me/")).toBe(true);
    expect(mayRefreshFor("/api/v1/invitations/accept/")).toBe(true);
  });
});
