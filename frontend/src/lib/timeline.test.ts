import { describe, expect, it } from "vitest";
import { formatLocalDate, groupByDay, layoutTimeline, offsetShifts, parseOccurrence, parseOccurrences } from "./timeline";

// Daily 09:00 in Europe/Paris across the spring-forward night of 29 March 2026.
const PARIS = ["2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"];

describe("parseOccurrence", () => {
  it("reads the wall-clock time and offset from the text, not the browser's zone", () => {
    const o = parseOccurrence("2026-03-29T09:00:00+02:00");
    expect(o).toMatchObject({ date: "2026-03-29", time: "09:00", offset: "+02:00", offsetMinutes: 120, minutesOfDay: 540, weekday: 6 });
    expect(o?.instant).toBe(Date.UTC(2026, 2, 29, 7, 0));
    expect(parseOccurrence("2026-01-05T23:30:00Z")).toMatchObject({ offsetMinutes: 0, weekday: 0 });
    expect(parseOccurrence("2026-01-05T10:00:00-0330")).toMatchObject({ offset: "-03:30", offsetMinutes: -210 });
    expect(parseOccurrence("not a date")).toBeNull();
  });
});

describe("offsetShifts", () => {
  it("finds the DST change between occurrences", () => {
    expect(offsetShifts(parseOccurrences(PARIS))).toEqual([{ index: 1, from: 60, to: 120 }]);
    expect(offsetShifts(parseOccurrences(PARIS.slice(1)))).toEqual([]);
  });
});

describe("layoutTimeline", () => {
  const box = { width: 300, height: 140, left: 20, right: 20, top: 10, bottom: 10 };

  it("spreads instants over the plot and keeps 09:00 on one line across DST", () => {
    const layout = layoutTimeline(parseOccurrences(PARIS), box, 0);
    expect(layout.points.map((p) => Math.round(p.x))).toEqual([20, 147, 280]); // 23 h then 24 h apart
    const ys = new Set(layout.points.map((p) => p.y));
    expect(ys.size).toBe(1);
    expect([...ys][0]).toBeCloseTo(10 + (120 * 540) / 1440);
    expect(layout.points.map((p) => p.shifted)).toEqual([false, true, true]);
    expect(layout.shifts).toHaveLength(1);
    expect(layout.shifts[0]?.label).toBe("UTC+01:00 → UTC+02:00");
    expect(layout.shifts[0]?.x).toBeCloseTo((20 + 20 + (260 * 23) / 47) / 2, 5);
    expect(layout.yTicks.map((t) => t.label)).toEqual(["00:00", "06:00", "12:00", "18:00", "24:00"]);
  });

  it("centres a single occurrence and thins labels that would overlap", () => {
    expect(layoutTimeline(parseOccurrences(PARIS.slice(0, 1)), box).points[0]?.x).toBe(150);
    const many = Array.from({ length: 30 }, (_, i) => `2026-01-${String(i + 1).padStart(2, "0")}T09:00:00+01:00`);
    const labelled = layoutTimeline(parseOccurrences(many), box, 40).points.filter((p) => p.labelled);
    expect(labelled.length).toBeGreaterThan(3);
    expect(labelled.length).toBeLessThan(10);
    expect(labelled[0]?.occurrence.date).toBe("2026-01-01");
  });

  it("handles an empty preview", () => {
    expect(layoutTimeline([], box).points).toEqual([]);
  });
});

describe("groupByDay", () => {
  it("groups by local date and flags the day the offset changed", () => {
    const groups = groupByDay(parseOccurrences(["2026-10-24T09:00:00+02:00", "2026-10-24T18:00:00+02:00", "2026-10-25T09:00:00+01:00"]));
    expect(groups.map((g) => [g.date, g.occurrences.length, g.offsetChanged])).toEqual([
      ["2026-10-24", 2, false],
      ["2026-10-25", 1, true],
    ]);
    expect(formatLocalDate("2026-10-25", 6)).toBe("Sun 25 Oct 2026");
  });
});
