import { describe, expect, it } from "vitest";
import {
  type AbTest,
  addDays,
  attachmentName,
  bucketLabel,
  dayLabel,
  describeAbTest,
  fillDays,
  formatPValue,
  formatRate,
  funnelPercent,
  rangeQuery,
  seriesTotals,
  zonedMidnight,
} from "./analytics";

const ab = (overrides: Partial<AbTest>): AbTest => ({
  variants_compared: ["B", "A"],
  metric: "click_through_rate",
  z: 2.6,
  p_value: 0.0093,
  significant: true,
  confidence: 0.95,
  winner: "B",
  reason: null,
  ...overrides,
});
const variants = [
  { variant: "A", click_through_rate: 3.1, delivered: 1000 },
  { variant: "B", click_through_rate: 4.2, delivered: 1000 },
];

describe("the A/B result in words", () => {
  it("names the winner and the significance", () => {
    expect(describeAbTest(ab({}), variants)).toBe(
      "Variant B's click-through is higher than variant A's (4.2% vs 3.1%); the difference is significant at 95% (p = 0.0093).",
    );
  });

  it("says when the difference may still be chance", () => {
    expect(describeAbTest(ab({ significant: false, winner: null, p_value: 0.2345, z: 1.19 }), variants)).toBe(
      "Variant B's click-through is higher than variant A's (4.2% vs 3.1%), but the difference is not significant yet at 95% (p = 0.23): it may be chance, so keep the test running.",
    );
  });

  it("explains why there is no result", () => {
    expect(describeAbTest(ab({ variants_compared: ["A"], z: null, p_value: null, significant: false, winner: null, reason: "needs two variants with deliveries" }))).toMatch(
      /^No A\/B result yet: it needs at least two variants with deliveries/,
    );
    expect(describeAbTest(ab({ z: 0, p_value: 1, significant: false, winner: null }), [
      { variant: "A", click_through_rate: 0, delivered: 5 },
      { variant: "B", click_through_rate: 0, delivered: 5 },
    ])).toBe("Variants B and A have the same click-through so far (0%); no difference to test yet.");
  });

  it("formats p-values to two significant digits", () => {
    expect(formatPValue(0.01)).toBe("p = 0.01");
    expect(formatPValue(0.0499)).toBe("p = 0.05");
    expect(formatPValue(0.5)).toBe("p = 0.50");
    expect(formatPValue(0.0001)).toBe("p < 0.001");
  });
});

describe("figures", () => {
  it("shows rates as percentages and a missing denominator as a dash", () => {
    expect(formatRate(12.345, "en")).toBe("12.3%");
    expect(formatRate(3.456, "en")).toBe("3.46%");
    expect(formatRate(100, "en")).toBe("100%");
    expect(formatRate(null)).toBe("—");
  });

  it("sizes funnel bars against the top step", () => {
    expect(funnelPercent(50, 200)).toBe(25);
    expect(funnelPercent(5, 0)).toBe(0);
    expect(funnelPercent(300, 200)).toBe(100);
  });

  it("zero-fills missing days and totals a series", () => {
    expect(fillDays([{ date: "2026-11-20", sent: 4 }], "2026-11-19", 3)).toEqual([
      { date: "2026-11-19", sent: 0 },
      { date: "2026-11-20", sent: 4 },
      { date: "2026-11-21", sent: 0 },
    ]);
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2024-03-01", -1)).toBe("2024-02-29");
    expect(seriesTotals([1, 5, 2])).toEqual({ total: 8, peak: 5, peakIndex: 1 });
    expect(seriesTotals([0, 0])).toEqual({ total: 0, peak: 0, peakIndex: -1 });
  });
});

describe("time in the workspace's zone", () => {
  it("finds local midnight, also on DST days and half-hour zones", () => {
    expect(zonedMidnight("2026-11-21", "UTC")).toBe("2026-11-21T00:00:00.000Z");
    expect(zonedMidnight("2026-11-21", "Asia/Kolkata")).toBe("2026-11-20T18:30:00.000Z");
    expect(zonedMidnight("2026-03-29", "Europe/Paris")).toBe("2026-03-28T23:00:00.000Z");
    expect(zonedMidnight("2026-03-30", "Europe/Paris")).toBe("2026-03-29T22:00:00.000Z");
    expect(zonedMidnight("2026-07-01", "America/New_York")).toBe("2026-07-01T04:00:00.000Z");
  });

  it("turns presets and custom dates into from/to", () => {
    const now = Date.parse("2026-11-21T10:20:00Z");
    expect(rangeQuery("24h", "UTC", now)).toEqual({ from: "2026-11-20T11:00:00.000Z", to: "2026-11-21T11:00:00.000Z" });
    expect(rangeQuery("7d", "Asia/Kolkata", now)).toEqual({ from: "2026-11-14T18:30:00.000Z", to: "2026-11-21T11:00:00.000Z" });
    expect(rangeQuery("custom", "Europe/Paris", now, { from: "2026-11-01", to: "2026-11-02" })).toEqual({
      from: "2026-10-31T23:00:00.000Z",
      to: "2026-11-02T23:00:00.000Z",
    });
    expect(rangeQuery("custom", "UTC", now, { from: "2026-11-05", to: "2026-11-01" })).toBeNull();
    expect(rangeQuery("custom", "UTC", now, { from: "", to: "2026-11-01" })).toBeNull();
  });

  it("labels buckets in the zone, not the browser's", () => {
    expect(bucketLabel("2026-11-21T08:30:00+00:00", "hour", "Asia/Kolkata")).toBe("Nov 21, 14:00");
    expect(bucketLabel("2026-11-20T23:00:00+00:00", "day", "Europe/Paris")).toBe("Nov 21");
    expect(dayLabel("2026-11-21")).toBe("Sat, Nov 21");
    expect(dayLabel("2026-11-21", "en-US", false)).toBe("Nov 21");
  });
});

describe("CSV download", () => {
  it("takes the file name from Content-Disposition", () => {
    expect(attachmentName('attachment; filename="campaign-1.csv"', "x.csv")).toBe("campaign-1.csv");
    expect(attachmentName("attachment; filename*=UTF-8''caf%C3%A9.csv", "x.csv")).toBe("café.csv");
    expect(attachmentName('attachment; filename="../../etc/passwd"', "x.csv")).toBe(".._.._etc_passwd");
    expect(attachmentName(null, "x.csv")).toBe("x.csv");
  });
});
