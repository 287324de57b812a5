import { describe, expect, it } from "vitest";
import { barGeometry, formatCompact, labelIndexes, linearScale, linePath, niceStep, niceTicks, pointX } from "./charts";

describe("axis ticks", () => {
  it("picks 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceStep(100, 4)).toBe(25);
    expect(niceStep(7, 4)).toBe(2);
    expect(niceStep(1234, 4)).toBe(500);
    expect(niceStep(0, 4)).toBe(1);
  });

  it("starts at zero and ends at or above the maximum", () => {
    expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(101)).toEqual([0, 50, 100, 150]);
  });

  it("keeps counts whole and an empty chart readable", () => {
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(1)).toEqual([0, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(Number.NaN)).toEqual([0, 1]);
    expect(niceTicks(0.3, 3, false)).toEqual([0, 0.1, 0.2, 0.3]);
  });
});

describe("geometry", () => {
  const box = { width: 200, height: 120, top: 10, right: 10, bottom: 20, left: 30 };

  it("scales linearly, also inverted (SVG y grows downwards)", () => {
    const y = linearScale([0, 100], [100, 10]);
    expect(y(0)).toBe(100);
    expect(y(50)).toBe(55);
    expect(y(100)).toBe(10);
    expect(linearScale([5, 5], [0, 10])(5)).toBe(0);
  });

  it("lays bars side by side from the baseline", () => {
    const bars = barGeometry([0, 50, 100], box, 100, 0.5);
    expect(bars.map((b) => b.height)).toEqual([0, 45, 90]);
    expect(bars[2]).toEqual({ x: 30 + 2 * 160 / 3 + 160 / 12, y: 10, width: 160 / 6, height: 90 });
    expect(bars.every((b) => b.y + b.height === 100)).toBe(true);
  });

  it("spreads line points over the plot width and draws a path", () => {
    expect(pointX(0, 3, box)).toBe(30);
    expect(pointX(2, 3, box)).toBe(190);
    expect(pointX(0, 1, box)).toBe(110);
    expect(linePath([{ x: 1, y: 2 }, { x: 3.04, y: 4.06 }])).toBe("M1 2 L3 4.1");
    expect(linePath([])).toBe("");
  });

  it("thins out labels, keeping the first and the last", () => {
    expect(labelIndexes(5, 7)).toEqual([0, 1, 2, 3, 4]);
    expect(labelIndexes(30, 6)).toEqual([0, 6, 12, 18, 29]);
    expect(labelIndexes(31, 6)).toEqual([0, 6, 12, 18, 24, 30]);
    expect(labelIndexes(168, 6)).toEqual([0, 34, 68, 102, 167]);
    expect(labelIndexes(24, 7)).toEqual([0, 4, 8, 12, 16, 23]);
    expect(labelIndexes(22, 6)).toEqual([0, 5, 10, 15, 21]);
    expect(labelIndexes(0, 5)).toEqual([]);
  });
});

describe("compact numbers", () => {
  it("abbreviates thousands and millions", () => {
    expect(formatCompact(950)).toBe("950");
    expect(formatCompact(1200)).toBe("1.2k");
    expect(formatCompact(1000)).toBe("1k");
    expect(formatCompact(12_400)).toBe("12k");
    expect(formatCompact(3_400_000)).toBe("3.4M");
    expect(formatCompact(2.5)).toBe("2.5");
  });
});
