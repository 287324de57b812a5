/**
 * Layout of schedule occurrences for the drawn preview. The API returns ISO 8601 instants with the
 * campaign zone's offset ("2026-03-29T09:00:00+02:00"), so the wall-clock time and the offset are read
 * straight from the text: no browser timezone is involved, and a DST change shows as a new offset.
 */

export interface Occurrence {
  iso: string;
  /** Local date and time in the campaign's zone. */
  date: string;
  time: string;
  /** "+02:00" and its minutes east of UTC. */
  offset: string;
  offsetMinutes: number;
  instant: number;
  minutesOfDay: number;
  /** 0 = Monday … 6 = Sunday, of the local date. */
  weekday: number;
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function parseOccurrence(iso: string): Occurrence | null {
  const match = ISO_RE.exec(iso.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, , zone] = match as unknown as string[];
  const offsetMinutes = zone === "Z" ? 0 : offsetToMinutes(zone ?? "");
  const instant = Date.parse(iso);
  if (Number.isNaN(instant)) return null;
  const localUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  return {
    iso,
    date: `${y}-${mo}-${d}`,
    time: `${h}:${mi}`,
    offset: zone === "Z" ? "+00:00" : normalizeOffset(zone ?? ""),
    offsetMinutes,
    instant,
    minutesOfDay: Number(h) * 60 + Number(mi),
    weekday: (new Date(localUtc).getUTCDay() + 6) % 7,
  };
}

function normalizeOffset(zone: string): string {
  return zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

function offsetToMinutes(zone: string): number {
  const normal = normalizeOffset(zone);
  const sign = normal.startsWith("-") ? -1 : 1;
  const [hours, minutes] = normal.slice(1).split(":").map(Number);
  return sign * ((hours ?? 0) * 60 + (minutes ?? 0));
}

export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export function parseOccurrences(isos: readonly string[]): Occurrence[] {
  return isos.map(parseOccurrence).filter((o): o is Occurrence => o !== null);
}

export interface OffsetShift {
  /** Index of the first occurrence with the new offset. */
  index: number;
  from: number;
  to: number;
}

/** Where the UTC offset changes between consecutive occurrences: a DST (or zone rule) change. */
export function offsetShifts(occurrences: readonly Occurrence[]): OffsetShift[] {
  const shifts: OffsetShift[] = [];
  for (let i = 1; i < occurrences.length; i++) {
    const prev = occurrences[i - 1];
    const cur = occurrences[i];
    if (prev && cur && prev.offsetMinutes !== cur.offsetMinutes) shifts.push({ index: i, from: prev.offsetMinutes, to: cur.offsetMinutes });
  }
  return shifts;
}

export interface TimelineBox {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const DEFAULT_BOX: TimelineBox = { width: 720, height: 220, left: 52, right: 20, top: 16, bottom: 46 };

export interface TimelinePoint {
  x: number;
  y: number;
  occurrence: Occurrence;
  /** The offset differs from the first occurrence's (after a DST change). */
  shifted: boolean;
  /** Whether this point gets a date label under the axis (labels are thinned to fit). */
  labelled: boolean;
}

export interface TimelineLayout {
  points: TimelinePoint[];
  /** Vertical markers between the two occurrences around an offset change. */
  shifts: { x: number; label: string }[];
  /** Local time-of-day gridlines. */
  yTicks: { y: number; label: string }[];
  plot: { x0: number; x1: number; y0: number; y1: number };
}

const DAY_MINUTES = 24 * 60;

/**
 * x: the instant, spread over the plot; y: the local time of day (00:00 at the top, 24:00 at the
 * bottom). A rule at 09:00 draws a flat line at 09:00 across a DST change, which is the point.
 */
export function layoutTimeline(occurrences: readonly Occurrence[], box: TimelineBox = DEFAULT_BOX, minLabelGap = 66): TimelineLayout {
  const x0 = box.left;
  const x1 = box.width - box.right;
  const y0 = box.top;
  const y1 = box.height - box.bottom;
  const first = occurrences[0];
  const last = occurrences[occurrences.length - 1];
  const span = first && last ? last.instant - first.instant : 0;
  // Evenly spaced when all occurrences share an instant's neighbourhood; else proportional to time.
  const xOf = (o: Occurrence, index: number) => {
    if (occurrences.length === 1) return (x0 + x1) / 2;
    if (span <= 0 || !first) return x0 + ((x1 - x0) * index) / (occurrences.length - 1);
    return x0 + ((x1 - x0) * (o.instant - first.instant)) / span;
  };
  const yOf = (o: Occurrence) => y0 + ((y1 - y0) * o.minutesOfDay) / DAY_MINUTES;
  let lastLabelX = -Infinity;
  const points = occurrences.map((occurrence, index) => {
    const x = xOf(occurrence, index);
    const labelled = x - lastLabelX >= minLabelGap;
    if (labelled) lastLabelX = x;
    return {
      x,
      y: yOf(occurrence),
      occurrence,
      shifted: first !== undefined && occurrence.offsetMinutes !== first.offsetMinutes,
      labelled,
    };
  });
  const shifts = offsetShifts(occurrences).map((shift) => {
    const before = points[shift.index - 1];
    const after = points[shift.index];
    return {
      x: before && after ? (before.x + after.x) / 2 : x0,
      label: `${formatOffset(shift.from)} → ${formatOffset(shift.to)}`,
    };
  });
  const yTicks = [0, 6, 12, 18, 24].map((hour) => ({
    y: y0 + ((y1 - y0) * hour * 60) / DAY_MINUTES,
    label: `${String(hour).padStart(2, "0")}:00`,
  }));
  return { points, shifts, yTicks, plot: { x0, x1, y0, y1 } };
}

export interface DayGroup {
  date: string;
  weekday: number;
  occurrences: Occurrence[];
  /** An occurrence this day has a different offset than the one before it. */
  offsetChanged: boolean;
}

/** Occurrences grouped by local date, in order, for the calendar strip. */
export function groupByDay(occurrences: readonly Occurrence[]): DayGroup[] {
  const groups: DayGroup[] = [];
  let previousOffset: number | null = null;
  for (const occurrence of occurrences) {
    let group = groups[groups.length - 1];
    if (!group || group.date !== occurrence.date) {
      group = { date: occurrence.date, weekday: occurrence.weekday, occurrences: [], offsetChanged: false };
      groups.push(group);
    }
    if (previousOffset !== null && previousOffset !== occurrence.offsetMinutes) group.offsetChanged = true;
    group.occurrences.push(occurrence);
    previousOffset = occurrence.offsetMinutes;
  }
  return groups;
}

const WEEKDAY_SHORT = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH_SHORT = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Mon 30 Mar 2026" from a local date and weekday, without the browser's zone. */
export function formatLocalDate(date: string, weekday: number, withYear = true): string {
  const [y, m, d] = date.split("-");
  const month = MONTH_SHORT[Number(m) - 1] ?? m;
  return `${WEEKDAY_SHORT[weekday] ?? ""} ${Number(d)} ${month}${withYear ? ` ${y}` : ""}`;
}
