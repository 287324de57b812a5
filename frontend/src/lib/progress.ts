/** Progress of a notification run: bar segments, done percentage, when to poll, the expected finish. */

export interface Counts {
  targeted: number;
  sent: number;
  failed: number;
  invalid: number;
  suppressed: number;
  pending: number;
}

export const SEGMENT_KEYS = ["sent", "failed", "invalid", "suppressed", "pending"] as const;
export type SegmentKey = (typeof SEGMENT_KEYS)[number];

export const SEGMENT_LABELS: Record<SegmentKey, string> = {
  sent: "Sent",
  failed: "Failed",
  invalid: "Invalid",
  suppressed: "Suppressed",
  pending: "Pending",
};

export interface Segment {
  key: SegmentKey;
  value: number;
  /** Share of the bar, 0–100; the segments add up to 100 when anything is targeted. */
  percent: number;
}

const clamp = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);

/**
 * The stacked bar: each status as a share of the run. The total is the larger of `targeted` and the
 * sum, so counts that race ahead of `targeted` during fan-out never overflow the bar.
 */
export function progressSegments(counts: Counts): Segment[] {
  const values = SEGMENT_KEYS.map((key) => ({ key, value: clamp(counts[key]) }));
  const sum = values.reduce((acc, s) => acc + s.value, 0);
  const total = Math.max(clamp(counts.targeted), sum);
  return values.map((s) => ({ ...s, percent: total ? (100 * s.value) / total : 0 }));
}

/** Share of targeted recipients with a final status (not pending), 0–100, one decimal. */
export function donePercent(counts: Counts, final = false): number {
  const targeted = clamp(counts.targeted);
  if (!targeted) return final ? 100 : 0;
  const done = Math.min(targeted, clamp(counts.sent) + clamp(counts.failed) + clamp(counts.invalid) + clamp(counts.suppressed));
  return Math.round((1000 * done) / targeted) / 10;
}

export const FINAL_STATUSES = ["sent", "failed", "cancelled"] as const;

export function isFinalStatus(status: string | null | undefined): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status ?? "");
}

/** Poll every 1.5 s while a run is in flight; stop once it is final (TanStack Query's refetchInterval). */
export function pollInterval(status: string | null | undefined, ms = 1500): number | false {
  return status && !isFinalStatus(status) ? ms : false;
}

/** "about 3 min left", "finished", or null when there is no estimate. */
export function describeEta(expectedFinishIso: string | null | undefined, now: number = Date.now()): string | null {
  if (!expectedFinishIso) return null;
  const at = Date.parse(expectedFinishIso);
  if (Number.isNaN(at)) return null;
  const seconds = Math.round((at - now) / 1000);
  if (seconds <= 0) return "any moment now";
  if (seconds < 60) return `about ${seconds} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.round((seconds % 3600) / 60);
  return `about ${hours} h ${minutes} min left`;
}

/** The success rate among finished deliveries, for the summary line. */
export function successRate(counts: Counts): number | null {
  const finished = clamp(counts.sent) + clamp(counts.failed) + clamp(counts.invalid);
  return finished ? Math.round((1000 * clamp(counts.sent)) / finished) / 10 : null;
}
