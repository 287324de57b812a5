import { describe, expect, it } from "vitest";
import { describeEta, donePercent, isFinalStatus, pollInterval, progressSegments, successRate } from "./progress";

const counts = (over: Partial<Record<string, number>> = {}) => ({
  targeted: 200,
  sent: 100,
  failed: 10,
  invalid: 5,
  suppressed: 5,
  pending: 80,
  ...over,
});

describe("progress math", () => {
  it("splits the bar by status", () => {
    const segments = progressSegments(counts());
    expect(segments.map((s) => [s.key, s.percent])).toEqual([
      ["sent", 50],
      ["failed", 5],
      ["invalid", 2.5],
      ["suppressed", 2.5],
      ["pending", 40],
    ]);
    expect(segments.reduce((a, s) => a + s.percent, 0)).toBeCloseTo(100);
  });

  it("never overflows when counts race ahead of targeted, nor divides by zero", () => {
    const segments = progressSegments(counts({ targeted: 100, pending: 0, sent: 120 }));
    expect(segments.reduce((a, s) => a + s.percent, 0)).toBeCloseTo(100);
    expect(progressSegments(counts({ targeted: 0, sent: 0, failed: 0, invalid: 0, suppressed: 0, pending: 0 })).every((s) => s.percent === 0)).toBe(true);
  });

  it("computes the done share", () => {
    expect(donePercent(counts())).toBe(60);
    expect(donePercent(counts({ targeted: 3, sent: 1, failed: 0, invalid: 0, suppressed: 0, pending: 2 }))).toBe(33.3);
    expect(donePercent(counts({ targeted: 0 }), true)).toBe(100);
    expect(donePercent(counts({ targeted: 0 }))).toBe(0);
  });

  it("polls only while the run is in flight", () => {
    expect(pollInterval("queued")).toBe(1500);
    expect(pollInterval("sending", 1000)).toBe(1000);
    expect(pollInterval("sent")).toBe(false);
    expect(pollInterval("failed")).toBe(false);
    expect(pollInterval("cancelled")).toBe(false);
    expect(pollInterval(undefined)).toBe(false);
    expect(isFinalStatus("sent")).toBe(true);
  });

  it("describes the expected finish", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(describeEta(null, now)).toBeNull();
    expect(describeEta("2026-01-01T12:00:30Z", now)).toBe("about 30 s left");
    expect(describeEta("2026-01-01T12:05:00Z", now)).toBe("about 5 min left");
    expect(describeEta("2026-01-01T14:30:00+00:00", now)).toBe("about 2 h 30 min left");
    expect(describeEta("2026-01-01T11:00:00Z", now)).toBe("any moment now");
  });

  it("rates success among finished deliveries", () => {
    expect(successRate(counts())).toBe(87);
    expect(successRate(counts({ sent: 0, failed: 0, invalid: 0 }))).toBeNull();
  });
});
