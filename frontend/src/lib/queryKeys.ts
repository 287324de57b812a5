/**
 * Query keys of the campaign side, all under ["ws", workspaceId, …] so switching workspace never shows
 * another workspace's cached rows, and one invalidation refreshes a whole area.
 */
export const wsKeys = {
  campaigns: (ws: string) => ["ws", ws, "campaigns"] as const,
  campaignList: (ws: string, filters: Record<string, unknown>) => ["ws", ws, "campaigns", "list", filters] as const,
  campaign: (ws: string, id: string) => ["ws", ws, "campaigns", "one", id] as const,
  contents: (ws: string, id: string) => ["ws", ws, "campaigns", "one", id, "contents"] as const,
  templates: (ws: string, search: string) => ["ws", ws, "templates", search] as const,
  notifications: (ws: string) => ["ws", ws, "notifications"] as const,
  notificationList: (ws: string, filters: Record<string, unknown>) => ["ws", ws, "notifications", "list", filters] as const,
  notification: (ws: string, id: string) => ["ws", ws, "notifications", "one", id] as const,
  deliveries: (ws: string, id: string, filters: Record<string, unknown>) => ["ws", ws, "notifications", "one", id, "deliveries", filters] as const,
  apps: (ws: string) => ["ws", ws, "apps"] as const,
  subscribers: (ws: string, filters: Record<string, unknown>) => ["ws", ws, "subscribers", filters] as const,
  segments: (ws: string) => ["ws", ws, "segments"] as const,
  segmentPreview: (ws: string, filter: string) => ["ws", ws, "segments", "preview", filter] as const,
  schedulePreview: (ws: string, body: Record<string, unknown>) => ["ws", ws, "schedule-preview", body] as const,
  aiSettings: (ws: string) => ["ws", ws, "ai-settings"] as const,
  analytics: (ws: string) => ["ws", ws, "analytics"] as const,
  analyticsSummary: (ws: string) => ["ws", ws, "analytics", "summary"] as const,
  campaignAnalytics: (ws: string, id: string, range: Record<string, unknown>) => ["ws", ws, "analytics", "campaign", id, range] as const,
};

/** Named explicitly (not only from the stored selection) so the cache key and the request always agree. */
export const wsHeader = (workspaceId: string) => ({ "X-Workspace-ID": workspaceId });
