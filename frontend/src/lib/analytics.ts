/**
 * Analytics as the dashboard shows it: funnel figures and rates, series zero-filled and labelled in the
 * workspace's timezone, the A/B result in words, date ranges for `from`/`to`, the CSV's file name.
 * Definitions are the API's (analytics/selectors.py): rates are percentages, null without a denominator.
 */

export const FUNNEL_KEYS = ["targeted", "sent", "delivered", "opened", "clicked"] as const;
export const OUTCOME_KEYS = ["failed", "invalid", "suppressed", "pending"] as const;
export const SERIES_METRICS = ["sent", "delivered", "opened", "clicked", "failed", "invalid", "suppressed", "unsubscribed"] as const;
export type SeriesMetric = (typeof SERIES_METRICS)[number];

export const METRIC_LABELS: Record<string, string> = {
  targeted: "Targeted",
  sent: "Sent",
  delivered: "Delivered",
  opened: "Opened",
  clicked: "Clicked",
  failed: "Failed",
  invalid: "Invalid",
  suppressed: "Suppressed",
  pending: "Pending",
  unsubscribed: "Unsubscribed",
};

export const RATE_LABELS = {
  delivery_rate: "Delivery rate",
  open_rate: "Open rate",
  click_through_rate: "Click-through rate",
  failed_pct: "Failed",
} as const;

/** What each rate divides, to say under the figure. */
export const RATE_DEFINITIONS: Record<keyof typeof RATE_LABELS, string> = {
  delivery_rate: "delivered / sent",
  open_rate: "opened / delivered",
  click_through_rate: "clicked / delivered",
  failed_pct: "failed / targeted",
};

/** 12.5 → "12.5%", 3 → "3%", null → "—" (no denominator yet). */
export function formatRate(rate: number | null | undefined, locale?: string): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  return `${rate.toLocaleString(locale, { maximumFractionDigits: rate >= 10 ? 1 : 2 })}%`;
}

/** A share of the largest funnel step, for the funnel bars (0–100). */
export function funnelPercent(value: number, top: number): number {
  if (!(top > 0)) return 0;
  return Math.min(100, Math.max(0, (100 * value) / top));
}

export function formatPValue(p: number): string {
  if (p < 0.001) return "p < 0.001";
  if (p >= 0.1) return `p = ${p.toFixed(2)}`;
  return `p = ${Number(p.toPrecision(2))}`;
}

export interface AbTest {
  variants_compared: string[];
  metric: string;
  z: number | null;
  p_value: number | null;
  significant: boolean;
  confidence: number;
  winner: string | null;
  reason: string | null;
}

interface VariantRates {
  variant: string | null;
  click_through_rate: number | null;
  delivered: number;
}

/**
 * The A/B test in a sentence: "Variant B's click-through is higher (4.2% vs 3.1%); the difference is
 * significant at 95% (p = 0.01)." or "… not significant yet (p = 0.23): keep the test running."
 */
export function describeAbTest(ab: AbTest, variants: readonly VariantRates[] = []): string {
  const [best, second] = ab.variants_compared;
  if (ab.reason || best === undefined || second === undefined || ab.p_value === null) {
    if (ab.variants_compared.length < 2) {
      return "No A/B result yet: it needs at least two variants with deliveries (delivery events come from the SDK).";
    }
    return `No A/B result yet${ab.reason ? `: ${ab.reason}` : ""}.`;
  }
  const rateOf = (label: string) => variants.find((v) => v.variant === label)?.click_through_rate ?? null;
  const bestRate = rateOf(best);
  const secondRate = rateOf(second);
  const confidence = `${Math.round(ab.confidence * 100)}%`;
  const p = formatPValue(ab.p_value);
  if (ab.z === 0 || (bestRate !== null && bestRate === secondRate)) {
    return `Variants ${best} and ${second} have the same click-through so far (${formatRate(bestRate)}); no difference to test yet.`;
  }
  const figures = bestRate !== null && secondRate !== null ? ` (${formatRate(bestRate)} vs ${formatRate(secondRate)})` : "";
  const lead = `Variant ${ab.winner ?? best}'s click-through is higher than variant ${second}'s${figures}`;
  if (ab.significant) return `${lead}; the difference is significant at ${confidence} (${p}).`;
  return `${lead}, but the difference is not significant yet at ${confidence} (${p}): it may be chance, so keep the test running.`;
}

// ---------------------------------------------------------------------------------------------
// Time: zone-aware labels and ranges (the API's days are the workspace's local days).

/** Minutes east of UTC of `timeZone` at instant `at` (Intl, no library). */
export function zoneOffsetMinutes(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((local - Math.floor(at / 1000) * 1000) / 60_000);
}

/** The instant of local midnight starting `date` (YYYY-MM-DD) in `timeZone`, as ISO 8601 UTC. */
export function zonedMidnight(date: string, timeZone: string): string {
  const [y, m, d] = date.split("-").map(Number);
  const guess = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1);
  let at = guess - zoneOffsetMinutes(guess, timeZone) * 60_000;
  // Once more: the offset at the guess can differ from the one at the answer (a DST day).
  at = guess - zoneOffsetMinutes(at, timeZone) * 60_000;
  return new Date(at).toISOString();
}

/** YYYY-MM-DD of instant `at` in `timeZone`. */
export function zonedDate(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(at));
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days)).toISOString().slice(0, 10);
}

export type RangePreset = "24h" | "7d" | "30d" | "90d" | "custom";
export const RANGE_PRESETS: { value: RangePreset; label: string }[] = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "90d", label: "Last 90 days" },
  { value: "custom", label: "Custom dates" },
];

export interface RangeQuery {
  from: string;
  to: string;
}

/**
 * `from`/`to` for the API. Presets end now (to the next full hour, so the query — and its cache key —
 * stays the same for an hour); day presets start at local midnight. Custom dates are whole local days,
 * `to` exclusive. null when the custom dates are missing or reversed.
 */
export function rangeQuery(preset: RangePreset, timeZone: string, now: number, custom?: { from: string; to: string }): RangeQuery | null {
  const hour = 3_600_000;
  const end = Math.ceil(now / hour) * hour;
  if (preset === "24h") return { from: new Date(end - 24 * hour).toISOString(), to: new Date(end).toISOString() };
  if (preset === "custom") {
    if (!custom?.from || !custom.to || custom.from > custom.to) return null;
    return { from: zonedMidnight(custom.from, timeZone), to: zonedMidnight(addDays(custom.to, 1), timeZone) };
  }
  const days = preset === "7d" ? 7 : preset === "30d" ? 30 : 90;
  const today = zonedDate(now, timeZone);
  return { from: zonedMidnight(addDays(today, 1 - days), timeZone), to: new Date(end).toISOString() };
}

/** A series bucket's label in the workspace's zone: "Nov 21, 14:00" hourly, "Nov 21" daily. */
export function bucketLabel(iso: string, granularity: string, timeZone: string, locale = "en-US"): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions =
    granularity === "hour"
      ? { timeZone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
      : { timeZone, month: "short", day: "numeric" };
  return new Intl.DateTimeFormat(locale, options).format(date);
}

/** A local date (YYYY-MM-DD) as "Sat, Nov 21" without any timezone shift. */
export function dayLabel(date: string, locale = "en-US", weekday = true): string {
  const [y, m, d] = date.split("-").map(Number);
  const at = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1));
  return new Intl.DateTimeFormat(locale, { timeZone: "UTC", month: "short", day: "numeric", ...(weekday ? { weekday: "short" } : {}) }).format(at);
}

/**
 * Daily points from `first` for `days` days, zero where the list has no entry (the API zero-fills, but a
 * chart must never skip a day if it did not).
 */
export function fillDays(points: readonly { date: string; sent: number }[], first: string, days: number): { date: string; sent: number }[] {
  const byDate = new Map(points.map((p) => [p.date, p.sent]));
  return Array.from({ length: days }, (_, i) => {
    const date = addDays(first, i);
    return { date, sent: byDate.get(date) ?? 0 };
  });
}

/** The sum of a metric over a series, and its peak. */
export function seriesTotals(values: readonly number[]): { total: number; peak: number; peakIndex: number } {
  let total = 0;
  let peak = 0;
  let peakIndex = -1;
  values.forEach((v, i) => {
    total += v;
    if (v > peak) {
      peak = v;
      peakIndex = i;
    }
  });
  return { total, peak, peakIndex };
}

/** The file name in Content-Disposition (RFC 6266 filename* or filename), else `fallback`. */
export function attachmentName(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;\s]+))/.exec(header);
  const name = plain?.[1] ?? plain?.[2];
  return name ? name.replace(/[/\\]/g, "_") : fallback;
}
