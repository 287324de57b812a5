/** Queries shared by the campaign-side pages (apps, segments, campaign names, AI settings), keyed per workspace. */
import { useQuery } from "@tanstack/react-query";
import { api, call, type Schemas } from "../api/client";
import { wsHeader, wsKeys } from "../lib/queryKeys";

export type App = Schemas["App"];
export type Campaign = Schemas["Campaign"];
export type Content = Schemas["Content"];
export type Template = Schemas["Template"];
export type Segment = Schemas["Segment"];
export type Subscriber = Schemas["Subscriber"];
export type Notification = Schemas["Notification"];
export type Delivery = Schemas["Delivery"];
export type AiSettings = Schemas["AiSettings"];

/** The detail endpoint returns the list fields plus progress/timing; the schema names only the extras. */
export type NotificationDetail = Notification & {
  progress: { done: number; total: number; percent: number; batches: number; fanout_complete: boolean };
  timing: Record<string, string | number | null>;
  expected_finish_at: string | null;
  failure_reasons: { status: string; code: string; count: number }[];
  stop_message?: string | null;
};

export function useApps(workspaceId: string) {
  return useQuery({
    queryKey: wsKeys.apps(workspaceId),
    // A workspace connects a handful of apps; 500 is the API's largest page.
    queryFn: () => call(api.GET("/api/v1/apps/", { params: { query: { page_size: 500 } }, headers: wsHeader(workspaceId) })),
    select: (page) => page.results,
  });
}

export function useSegments(workspaceId: string) {
  return useQuery({
    queryKey: wsKeys.segments(workspaceId),
    queryFn: () => call(api.GET("/api/v1/segments/", { params: { query: { page_size: 500 } }, headers: wsHeader(workspaceId) })),
    select: (page) => page.results,
  });
}

export function useAiSettings(workspaceId: string) {
  return useQuery({
    queryKey: wsKeys.aiSettings(workspaceId),
    queryFn: () => call(api.GET("/api/v1/ai/settings/", { headers: wsHeader(workspaceId) })),
  });
}

/** Campaign names for pickers (the most recent 500). */
export function useCampaignNames(workspaceId: string) {
  return useQuery({
    queryKey: wsKeys.campaignList(workspaceId, { names: true }),
    queryFn: () =>
      call(api.GET("/api/v1/campaigns/", { params: { query: { page_size: 500, ordering: "-created_at" } }, headers: wsHeader(workspaceId) })),
    select: (page) => page.results.map((c) => ({ id: c.id, name: c.name })),
  });
}

export function appLabel(app: App): string {
  return `${app.name} (${app.kind === "fcm" ? "Firebase" : "Web Push"})`;
}
