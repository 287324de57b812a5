/**
 * AI copy rules the dashboard mirrors from the API (campaigns/ai_api.py): request limits, the tone's
 * shape, and plain-words accounts of the quota and of the AI error codes.
 */
import { ApiProblem } from "../api/errors";
import { CONTENT_LIMITS } from "./campaigns";

export const AI_TONES = ["cheerful", "festive", "formal", "urgent", "playful", "empathetic"] as const;
/** The select's value for "type your own tone". */
export const CUSTOM_TONE = "__custom__";

export const AI_LIMITS = {
  prompt: 1000,
  tone: 30,
  variantsMin: 1,
  variantsMax: 5,
  titleMin: 10,
  titleMax: CONTENT_LIMITS.title,
  bodyMin: 20,
  bodyMax: CONTENT_LIMITS.body,
  brandVoice: 2000,
  baseUrl: 500,
  model: 100,
  apiKey: 500,
} as const;

// The API's rule: a letter, then up to 29 letters, digits, underscores, spaces or hyphens.
const TONE_RE = /^\p{L}[\p{L}\p{N}_ -]{0,29}$/u;

/** The tone as the API will store it (spaces collapsed, lower case), or an error. */
export function checkTone(value: string): { tone: string; error: string | null } {
  const tone = value.split(/\s+/).filter(Boolean).join(" ").toLowerCase();
  if (!tone) return { tone, error: "Type a tone, e.g. witty." };
  if (!TONE_RE.test(tone)) return { tone, error: "One or a few words: letters, spaces and hyphens (at most 30 characters)." };
  return { tone, error: null };
}

/** A whole number within [min, max], or an error sentence. */
export function wholeNumberError(value: string, min: number, max: number): string | null {
  if (!/^\d+$/.test(value.trim())) return `A whole number from ${min} to ${max}.`;
  const n = Number(value);
  return n < min || n > max ? `A whole number from ${min} to ${max}.` : null;
}

export interface Quota {
  used: number;
  limit: number | null;
  period: string;
  resets_at: string;
}

/** "1 December 2026" for a calendar date (YYYY-MM-DD…), read as written: no timezone shift. */
export function formatDay(date: string, locale?: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  if (!match) return date;
  const at = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return new Intl.DateTimeFormat(locale, { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" }).format(at);
}

/**
 * The day the quota resets: the 1st after `period` (YYYY-MM, the workspace's month). Taken from the period
 * rather than from `resets_at`, which the API may write in UTC (the evening before, east of Greenwich).
 */
export function resetDay(period: string | undefined, resetsAt: string | undefined): string | null {
  const match = period ? /^(\d{4})-(\d{2})$/.exec(period) : null;
  if (match) {
    const year = Number(match[1]);
    const month = Number(match[2]);
    return month === 12 ? `${year + 1}-01-01` : `${year}-${String(month + 1).padStart(2, "0")}-01`;
  }
  return resetsAt ?? null;
}

export function quotaLeft(quota: Quota): number | null {
  return quota.limit === null ? null : Math.max(0, quota.limit - quota.used);
}

/** "3 of 100 AI generations used this month — 97 left; resets on 1 December 2026." */
export function describeQuota(quota: Quota, locale?: string): string {
  const used = `${quota.used.toLocaleString(locale)} generation${quota.used === 1 ? "" : "s"}`;
  if (quota.limit === null) return `Unlimited AI generations on your plan (${used} this month).`;
  const left = quotaLeft(quota) ?? 0;
  const resets = `resets on ${formatDay(resetDay(quota.period, quota.resets_at) ?? "", locale)}`;
  if (left === 0) return `All ${quota.limit.toLocaleString(locale)} AI generations of this month are used; the quota ${resets}.`;
  return `${quota.used.toLocaleString(locale)} of ${quota.limit.toLocaleString(locale)} AI generations used this month — ${left.toLocaleString(locale)} left; ${resets}.`;
}

/** "30 seconds", "2 minutes", "about 3 hours", "5 days". */
export function describeWait(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  const hours = Math.round(s / 3600);
  if (hours < 48) return `about ${hours} hour${hours === 1 ? "" : "s"}`;
  const days = Math.round(s / 86_400);
  return `${days} days`;
}

export interface AiErrorView {
  title: string;
  message: string;
  hints: string[];
  /** The problem concerns the provider setup: point to Settings → AI. */
  settingsLink: boolean;
}

/** The AI endpoint's refusals in plain words (codes from campaigns/ai/error_codes.py). */
export function describeAiError(error: unknown, locale?: string): AiErrorView | null {
  if (!(error instanceof ApiProblem)) return null;
  const reason = error.message.replace(/\s+$/, "");
  switch (error.code) {
    case "ai_not_configured":
      return {
        title: "AI is not set up.",
        message: "No AI provider is configured — an owner/admin can set one in Settings → AI.",
        hints: error.details.base_url ?? [],
        settingsLink: true,
      };
    case "ai_quota_exceeded": {
      const resets = resetDay(error.details.period?.[0], error.details.resets_at?.[0]);
      return {
        title: "Monthly AI quota used up.",
        message: resets
          ? `This workspace has used all its AI generations for this month. The quota resets on ${formatDay(resets, locale)}.`
          : reason,
        hints: [],
        settingsLink: false,
      };
    }
    case "ai_rate_limited":
      return {
        title: "The AI provider is busy.",
        message:
          error.retryAfter !== null
            ? `It asked us to slow down: try again in ${describeWait(error.retryAfter)}.`
            : "It asked us to slow down: try again in a moment.",
        hints: [],
        settingsLink: false,
      };
    case "ai_upstream_error":
      return { title: "The AI provider failed.", message: reason, hints: [], settingsLink: false };
    case "ai_invalid_output":
      // details.problems are {code, message} objects; normalizeDetails flattened them to their strings.
      return {
        title: "The model's copy did not pass our checks.",
        message: reason,
        hints: (error.details.problems ?? []).filter((text) => !/^[a-z_]+$/.test(text) && !reason.includes(text)).slice(0, 5),
        settingsLink: false,
      };
    default:
      return null;
  }
}

/** "key set ••••1234"; "no key" when none is stored. */
export function describeStoredKey(set: boolean, last4: string | null): string {
  if (!set) return "no key";
  return last4 ? `key set ••••${last4}` : "key set";
}
