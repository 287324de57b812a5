/**
 * The arithmetic of the dashboard's SVG charts (no chart library: a few bars and lines don't need one):
 * "nice" axis ticks, linear scales, bar and line geometry, compact number labels.
 */

/** A step of 1, 2, 2.5 or 5 × 10^n close to span / count (the classic "nice numbers" rule). */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Ticks from 0 (counts never go below) to a nice maximum at or above `max`, about `count` intervals.
 * Whole numbers only when `integer` (counts of messages): a max of 3 gives 0, 1, 2, 3, not 0, 0.5…
 */
export function niceTicks(max: number, count = 4, integer = true): number[] {
  const top = Number.isFinite(max) && max > 0 ? max : 0;
  if (top === 0) return [0, 1];
  let step = niceStep(top, count);
  if (integer) step = Math.max(1, Math.ceil(step));
  const last = Math.ceil(top / step - 1e-9) * step;
  const ticks: number[] = [];
  // Rounded to the step's precision, so 0.1 + 0.2 never shows as 0.30000000000000004.
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let value = 0; value <= last + step / 2; value += step) ticks.push(Number(value.toFixed(digits)));
  return ticks;
}

export type Scale = (value: number) => number;

/** Maps [d0, d1] onto [r0, r1]; a zero-width domain maps everything to r0. */
export function linearScale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): Scale {
  const span = d1 - d0;
  if (span === 0) return () => r0;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

export interface Box {
  width: number;
  height: number;
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export interface BarGeometry {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Bars for `values` in the plot area of `box` (y from 0 to the last tick), `gap` a share of each slot. */
export function barGeometry(values: readonly number[], box: Box, yMax: number, gap = 0.25): BarGeometry[] {
  const plotWidth = box.width - box.left - box.right;
  const bottom = box.height - box.bottom;
  const y = linearScale([0, yMax || 1], [bottom, box.top]);
  const slot = values.length ? plotWidth / values.length : 0;
  const width = Math.max(1, slot * (1 - gap));
  return values.map((value, index) => {
    const top = y(Math.max(0, value));
    return { x: box.left + index * slot + (slot - width) / 2, y: top, width, height: bottom - top };
  });
}

/** The centre x of point `index` of `count` spread over the plot area (one point: the middle). */
export function pointX(index: number, count: number, box: Box): number {
  const plotWidth = box.width - box.left - box.right;
  if (count <= 1) return box.left + plotWidth / 2;
  return box.left + (index * plotWidth) / (count - 1);
}

/** An SVG path "M x y L x y …" through the points (rounded to 0.1 px to keep the markup small). */
export function linePath(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${round1(p.x)} ${round1(p.y)}`).join(" ");
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Which of `count` labels to print so that at most `max` show, evenly (always the first and last). */
export function labelIndexes(count: number, max: number): number[] {
  if (count <= 0) return [];
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  const step = Math.ceil((count - 1) / Math.max(1, max - 1));
  const out: number[] = [];
  for (let i = 0; i < count - 1; i += step) out.push(i);
  // The last label is anchored at its end: drop the one before it unless a full step separates them.
  if (count - 1 - (out.at(-1) ?? 0) < step && out.length > 1) out.pop();
  out.push(count - 1);
  return out;
}

/** 950, 1.2k, 12k, 3.4M: for axis labels (tables show full numbers). */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  const units: [number, string][] = [
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const scaled = value / size;
      const text = Math.abs(scaled) < 10 ? scaled.toFixed(1).replace(/\.0$/, "") : String(Math.round(scaled));
      return `${text}${suffix}`;
    }
  }
  return Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, "");
}
