export function formatDateTime(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** "2026-03-29 09:00": an API time as written, in its own zone's wall clock (no conversion to the browser's). */
export function formatWallClock(iso: string): string {
  return iso.slice(0, 16).replace("T", " ");
}

/** "in 5 days", "3 hours ago": for expiry dates and last use. */
export function formatRelative(iso: string | null | undefined, now: Date = new Date(), locale?: string): string {
  if (!iso) return "never";
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return "never";
  const seconds = Math.round((then - now.getTime()) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["year", 31_536_000],
    ["month", 2_592_000],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

/** The shown part of an API key: its public prefix; the secret is never stored. */
export function maskedKey(prefix: string): string {
  return `pp_live_${prefix}_••••••••`;
}

/** IANA zone names this browser knows (for the timezone picker). */
export function timezoneNames(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  const names = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return names.includes("UTC") ? names : ["UTC", ...names];
}

export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Audit metadata is a small flat object ({from, to}, {email, role}…): show it as "key: value" pairs. */
export function describeMetadata(metadata: unknown): string {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return "";
  return Object.entries(metadata as Record<string, unknown>)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}: ${metadataValue(value)}`)
    .join(", ");
}

function metadataValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(metadataValue).join(", ");
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}
