/**
 * A small RRULE builder for the common cases (frequency, interval, weekdays, monthly day or ordinal
 * weekday, count/until) and its inverse. The time of day is not a rule part here: it is DTSTART's,
 * which the API evaluates in the campaign's timezone (09:00 stays 09:00 across DST).
 *
 * Rules the builder cannot express (BYSETPOS, BYHOUR, several BYMONTHDAYs…) still work: they are kept
 * as raw text, and `parseRule` returns null so the editor says "custom rule".
 */

export const FREQUENCIES = ["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const WEEKDAY_LABELS: Record<Weekday, string> = {
  MO: "Monday",
  TU: "Tuesday",
  WE: "Wednesday",
  TH: "Thursday",
  FR: "Friday",
  SA: "Saturday",
  SU: "Sunday",
};

const UNIT: Record<Frequency, string> = { HOURLY: "hour", DAILY: "day", WEEKLY: "week", MONTHLY: "month", YEARLY: "year" };

export type MonthlyMode = "same_day" | "month_day" | "ordinal_weekday";
export type EndKind = "never" | "count" | "until";

export interface RuleSpec {
  freq: Frequency;
  interval: number;
  /** WEEKLY: the days it fires (empty = DTSTART's weekday). */
  weekdays: Weekday[];
  /** MONTHLY: DTSTART's day, a fixed day (BYMONTHDAY, -1 = last), or an ordinal weekday (BYDAY=2TU). */
  monthlyMode: MonthlyMode;
  monthDay: number;
  ordinal: number;
  ordinalWeekday: Weekday;
  end: EndKind;
  count: number;
  /** YYYY-MM-DD: a DATE UNTIL, which includes that whole local day. */
  until: string;
}

export const DEFAULT_SPEC: RuleSpec = {
  freq: "WEEKLY",
  interval: 1,
  weekdays: ["MO"],
  monthlyMode: "same_day",
  monthDay: 1,
  ordinal: 1,
  ordinalWeekday: "MO",
  end: "never",
  count: 10,
  until: "",
};

/** The RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE") for a spec. */
export function buildRule(spec: RuleSpec): string {
  const parts = [`FREQ=${spec.freq}`];
  const interval = Math.max(1, Math.floor(spec.interval) || 1);
  if (interval > 1) parts.push(`INTERVAL=${interval}`);
  if (spec.freq === "WEEKLY" && spec.weekdays.length > 0) {
    const days = WEEKDAYS.filter((day) => spec.weekdays.includes(day));
    parts.push(`BYDAY=${days.join(",")}`);
  }
  if (spec.freq === "MONTHLY") {
    if (spec.monthlyMode === "month_day") parts.push(`BYMONTHDAY=${spec.monthDay}`);
    if (spec.monthlyMode === "ordinal_weekday") parts.push(`BYDAY=${spec.ordinal}${spec.ordinalWeekday}`);
  }
  if (spec.end === "count") parts.push(`COUNT=${Math.max(1, Math.floor(spec.count) || 1)}`);
  if (spec.end === "until" && /^\d{4}-\d{2}-\d{2}$/.test(spec.until)) parts.push(`UNTIL=${spec.until.replaceAll("-", "")}`);
  return parts.join(";");
}

/** Strips an optional "RRULE:" prefix and surrounding space; a multi-line RFC 5545 text is left alone. */
function ruleValue(text: string): string | null {
  const lines = text
    .trim()
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (lines.length !== 1) return null;
  const line = lines[0] ?? "";
  return line.toUpperCase().startsWith("RRULE:") ? line.slice(6) : line;
}

/** The spec of a rule the builder can show, or null for anything else (shown as a custom rule). */
export function parseRule(text: string): RuleSpec | null {
  const value = ruleValue(text);
  if (!value) return null;
  const parts = new Map<string, string>();
  for (const piece of value.split(";")) {
    if (!piece) continue;
    const [key, raw] = piece.split("=", 2);
    if (!key || raw === undefined || parts.has(key.toUpperCase())) return null;
    parts.set(key.toUpperCase(), raw.toUpperCase());
  }
  const freq = parts.get("FREQ") as Frequency | undefined;
  if (!freq || !FREQUENCIES.includes(freq)) return null;
  const spec: RuleSpec = { ...DEFAULT_SPEC, freq, weekdays: [] };
  for (const [key, raw] of parts) {
    switch (key) {
      case "FREQ":
        break;
      case "INTERVAL": {
        if (!/^\d+$/.test(raw) || Number(raw) < 1) return null;
        spec.interval = Number(raw);
        break;
      }
      case "COUNT": {
        if (!/^\d+$/.test(raw) || Number(raw) < 1 || spec.end === "until") return null;
        spec.end = "count";
        spec.count = Number(raw);
        break;
      }
      case "UNTIL": {
        const match = /^(\d{4})(\d{2})(\d{2})$/.exec(raw);
        if (!match || spec.end === "count") return null; // a date-time UNTIL is kept as custom text
        spec.end = "until";
        spec.until = `${match[1]}-${match[2]}-${match[3]}`;
        break;
      }
      case "BYDAY": {
        if (freq === "WEEKLY") {
          const days = raw.split(",");
          if (!days.every((day): day is Weekday => (WEEKDAYS as readonly string[]).includes(day))) return null;
          spec.weekdays = WEEKDAYS.filter((day) => days.includes(day));
        } else if (freq === "MONTHLY") {
          const match = /^([+-]?[1-5])(MO|TU|WE|TH|FR|SA|SU)$/.exec(raw);
          if (!match || spec.monthlyMode === "month_day") return null;
          spec.monthlyMode = "ordinal_weekday";
          spec.ordinal = Number(match[1]);
          spec.ordinalWeekday = match[2] as Weekday;
        } else return null;
        break;
      }
      case "BYMONTHDAY": {
        if (freq !== "MONTHLY" || !/^-?\d{1,2}$/.test(raw) || spec.monthlyMode === "ordinal_weekday") return null;
        const day = Number(raw);
        if (day === 0 || day > 31 || day < -31) return null;
        spec.monthlyMode = "month_day";
        spec.monthDay = day;
        break;
      }
      default:
        return null;
    }
  }
  return spec;
}

const ORDINALS: Record<string, string> = { "1": "first", "2": "second", "3": "third", "4": "fourth", "5": "fifth", "-1": "last" };

function ordinalNumber(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** "Every 2 weeks on Monday and Friday, 10 times": what a spec means, in words. */
export function describeRule(spec: RuleSpec): string {
  const unit = UNIT[spec.freq];
  let text = spec.interval > 1 ? `Every ${spec.interval} ${unit}s` : `Every ${unit}`;
  if (spec.freq === "WEEKLY" && spec.weekdays.length) text += ` on ${list(spec.weekdays.map((d) => WEEKDAY_LABELS[d]))}`;
  if (spec.freq === "MONTHLY" && spec.monthlyMode === "month_day") {
    text += spec.monthDay === -1 ? " on the last day" : spec.monthDay < 0 ? ` on day ${spec.monthDay}` : ` on the ${ordinalNumber(spec.monthDay)}`;
  }
  if (spec.freq === "MONTHLY" && spec.monthlyMode === "ordinal_weekday") {
    text += ` on the ${ORDINALS[String(spec.ordinal)] ?? spec.ordinal} ${WEEKDAY_LABELS[spec.ordinalWeekday]}`;
  }
  if (spec.end === "count") text += spec.count === 1 ? ", once" : `, ${spec.count} times`;
  if (spec.end === "until" && spec.until) text += `, until ${spec.until}`;
  return text;
}

/** "2026-03-29T09:00" (datetime-local) → "2026-03-29T09:00:00": wall-clock time without an offset. */
export function wallClock(local: string): string {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(local)) return `${local}:00`;
  return local;
}

/** The reverse, for an <input type="datetime-local">: "2026-03-29T09:00:00+02:00" → "2026-03-29T09:00". */
export function toLocalInput(value: string | null | undefined): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})/.exec(value ?? "");
  return match?.[1] ?? "";
}
