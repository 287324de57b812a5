/** Campaign rules the dashboard mirrors from the API: status verbs, audience shape, copy limits. */
import { EMPTY_FILTER_FORM, type FilterForm, filterToForm, formToFilter } from "./segmentFilter";

export type CampaignStatus = "draft" | "scheduled" | "running" | "paused" | "completed" | "cancelled";
export type ScheduleType = "send_now" | "scheduled" | "recurring";
export type Channel = "app_push" | "web_push";

export const CAMPAIGN_STATUSES: CampaignStatus[] = ["draft", "scheduled", "running", "paused", "completed", "cancelled"];
export const CHANNELS: { value: Channel; label: string; appKind: "fcm" | "web_push" }[] = [
  { value: "app_push", label: "App push (Firebase)", appKind: "fcm" },
  { value: "web_push", label: "Web push", appKind: "web_push" },
];
export const SCHEDULE_TYPES: { value: ScheduleType; label: string }[] = [
  { value: "send_now", label: "Send now" },
  { value: "scheduled", label: "One time" },
  { value: "recurring", label: "Recurring" },
];

export const CONTENT_LIMITS = { title: 65, body: 240, variant: 32, weightMax: 10_000, name: 200, description: 5000 } as const;

export function appKindFor(channel: string): "fcm" | "web_push" | null {
  return CHANNELS.find((c) => c.value === channel)?.appKind ?? null;
}

export interface CampaignVerbs {
  schedule: boolean;
  sendNow: boolean;
  pause: boolean;
  resume: boolean;
  cancel: boolean;
  remove: boolean;
  /** Channel, app, schedule type and timezone change only in drafts. */
  editSetup: boolean;
  editContent: boolean;
}

/** Which buttons make sense for a campaign (the API's status machine has the final word: 409). */
export function campaignVerbs(status: string, scheduleType: string): CampaignVerbs {
  const recurring = scheduleType === "recurring";
  const live = status === "scheduled" || status === "running" || status === "paused";
  return {
    schedule: scheduleType !== "send_now" && (status === "draft" || status === "scheduled"),
    sendNow: scheduleType === "send_now" && status === "draft",
    pause: recurring && (status === "scheduled" || status === "running"),
    resume: recurring && status === "paused",
    cancel: status === "draft" || live,
    remove: status === "draft",
    editSetup: status === "draft",
    editContent: status === "draft" || live,
  };
}

export type AudienceKind = "all" | "segment" | "filter";

export interface AudienceForm {
  kind: AudienceKind;
  segmentId: string;
  /** The inline filter as the segment form; null when it uses conditions the form cannot show. */
  filter: FilterForm | null;
  /** The stored inline filter, kept as is when the form cannot show it. */
  rawFilter: Record<string, unknown> | null;
}

/** The stored audience ({all}, {segment_id}, {filter}; {} means every active subscriber) as a form. */
export function audienceToForm(audience: unknown): AudienceForm {
  const value = (typeof audience === "object" && audience !== null ? audience : {}) as Record<string, unknown>;
  if (typeof value.segment_id === "string") return { kind: "segment", segmentId: value.segment_id, filter: { ...EMPTY_FILTER_FORM }, rawFilter: null };
  if (typeof value.filter === "object" && value.filter !== null) {
    const raw = value.filter as Record<string, unknown>;
    return { kind: "filter", segmentId: "", filter: filterToForm(raw), rawFilter: raw };
  }
  return { kind: "all", segmentId: "", filter: { ...EMPTY_FILTER_FORM }, rawFilter: null };
}

export type AudienceResult = { ok: true; audience: Record<string, unknown> } | { ok: false; error: string };

export function formToAudience(form: AudienceForm): AudienceResult {
  if (form.kind === "all") return { ok: true, audience: { all: true } };
  if (form.kind === "segment") {
    return form.segmentId ? { ok: true, audience: { segment_id: form.segmentId } } : { ok: false, error: "Choose a segment." };
  }
  const filter = form.filter ? formToFilter(form.filter) : form.rawFilter;
  if (!filter || Object.keys(filter).length === 0) {
    return { ok: false, error: "Give the filter at least one condition (or send to all subscribers)." };
  }
  return { ok: true, audience: { filter } };
}

export interface OptionsForm {
  /** Messages per minute for each run (empty: as fast as possible). */
  throttle: string;
  ttl: string;
  priority: string;
  clickUrl: string;
  collapseKey: string;
}

export function optionsToForm(options: unknown): OptionsForm {
  const value = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>;
  return {
    throttle: typeof value.throttle_per_minute === "number" ? String(value.throttle_per_minute) : "",
    ttl: typeof value.ttl === "number" ? String(value.ttl) : "",
    priority: typeof value.priority === "string" ? value.priority : "",
    clickUrl: typeof value.click_url === "string" ? value.click_url : "",
    collapseKey: typeof value.collapse_key === "string" ? value.collapse_key : "",
  };
}

export const MAX_TTL_SECONDS = 28 * 24 * 3600;

/** The options object for the API; blank fields are left out so the defaults apply. */
export function formToOptions(form: OptionsForm, keep: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Keep what the form does not edit (custom data).
  if (keep.data && typeof keep.data === "object") out.data = keep.data;
  if (form.ttl.trim() !== "") out.ttl = Number(form.ttl);
  if (form.throttle.trim() !== "") out.throttle_per_minute = Number(form.throttle);
  if (form.priority) out.priority = form.priority;
  if (form.clickUrl.trim()) out.click_url = form.clickUrl.trim();
  if (form.collapseKey.trim()) out.collapse_key = form.collapseKey.trim();
  return out;
}

export function ttlError(value: string): string | null {
  if (value.trim() === "") return null;
  if (!/^\d+$/.test(value.trim())) return "Enter whole seconds.";
  return Number(value) > MAX_TTL_SECONDS ? `At most ${MAX_TTL_SECONDS} seconds (28 days).` : null;
}

export const MAX_THROTTLE_PER_MINUTE = 1_000_000;

export function throttleError(value: string): string | null {
  if (value.trim() === "") return null;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) return "Enter a whole number of messages per minute (1 or more).";
  return Number(value) > MAX_THROTTLE_PER_MINUTE ? `At most ${MAX_THROTTLE_PER_MINUTE.toLocaleString("en")} per minute.` : null;
}

export function urlError(value: string): string | null {
  if (!value.trim()) return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? null : "Enter an http(s) URL.";
  } catch {
    return "Enter an http(s) URL.";
  }
}

/** "12 / 65", and whether the text is over its limit. */
export function charCount(text: string, limit: number): { label: string; over: boolean; length: number } {
  const length = [...text].length;
  return { label: `${length} / ${limit}`, over: length > limit, length };
}

/** Share of each active variant of one language, from their weights (for the A/B column). */
export function variantShares(contents: readonly { id: string; language: string; weight: number; is_active: boolean }[]): Record<string, number> {
  const totals = new Map<string, number>();
  for (const c of contents) if (c.is_active) totals.set(c.language, (totals.get(c.language) ?? 0) + Math.max(0, c.weight));
  const out: Record<string, number> = {};
  for (const c of contents) {
    const total = totals.get(c.language) ?? 0;
    out[c.id] = c.is_active && total ? Math.round((100 * Math.max(0, c.weight)) / total) : 0;
  }
  return out;
}
