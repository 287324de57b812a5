/** The workspaces I belong to, and the selected one (localStorage; sent as X-Workspace-ID). */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { api, call, type Workspace } from "../api/client";
import { workspaceSelection } from "../api/workspaceSelection";
import { useSession } from "./session";

export const workspaceKeys = {
  all: ["workspaces"] as const,
  members: (id: string) => ["workspaces", id, "members"] as const,
  invitations: (id: string) => ["workspaces", id, "invitations"] as const,
  apiKeys: (id: string) => ["workspaces", id, "api-keys"] as const,
  auditLog: (id: string, page: number) => ["workspaces", id, "audit-log", page] as const,
};

export function useWorkspaces() {
  const { tokens } = useSession();
  return useQuery({
    queryKey: workspaceKeys.all,
    // A person belongs to a handful of workspaces; 500 is the API's largest page.
    queryFn: () => call(api.GET("/api/v1/workspaces/", { params: { query: { page_size: 500 } } })),
    select: (page) => page.results,
    enabled: tokens !== null,
  });
}

/** A workspace's members (the team table, the ownership transfer): one page of up to 500, the API's largest. */
export function useMembers(workspaceId: string) {
  return useQuery({
    queryKey: workspaceKeys.members(workspaceId),
    queryFn: () =>
      call(
        api.GET("/api/v1/workspaces/{workspace_pk}/members/", {
          params: { path: { workspace_pk: workspaceId }, query: { page_size: 500 } },
        }),
      ),
  });
}

export function selectWorkspace(id: string | null) {
  if (id) workspaceSelection.set(id);
  else workspaceSelection.clear();
}

export function useCurrentWorkspace(): {
  workspace: Workspace | null;
  workspaces: Workspace[];
  isLoading: boolean;
  error: unknown;
} {
  const selectedId = useSyncExternalStore(workspaceSelection.subscribe, workspaceSelection.get);
  const query = useWorkspaces();
  const workspaces = query.data ?? [];
  const workspace = workspaces.find((w) => w.id === selectedId) ?? null;

  // A stale selection (deleted workspace, removed from it, another account): fall back to the first.
  useEffect(() => {
    if (!query.isSuccess) return;
    if (!workspaces.some((w) => w.id === selectedId)) selectWorkspace(workspaces[0]?.id ?? null);
  }, [query.isSuccess, workspaces, selectedId]);

  return { workspace, workspaces, isLoading: query.isLoading, error: query.error };
}
