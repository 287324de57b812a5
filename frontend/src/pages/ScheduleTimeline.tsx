/**
 * The drawn schedule preview: an SVG timeline (x = time, y = local time of day, so a 09:00 rule is a flat
 * line even across a DST change, which is marked) and a calendar strip of the days with their local times.
 */
import { DEFAULT_BOX, formatLocalDate, formatOffset, groupByDay, layoutTimeline, offsetShifts, parseOccurrences } from "../lib/timeline";

export function ScheduleTimeline({ occurrences, timezone }: { occurrences: readonly string[]; timezone: string }) {
  const parsed = parseOccurrences(occurrences);
  if (parsed.length === 0) return <p className="empty">No occurrence to show.</p>;
  const box = DEFAULT_BOX;
  const layout = layoutTimeline(parsed, box);
  const shifts = offsetShifts(parsed);
  const days = groupByDay(parsed);
  const first = parsed[0];
  const last = parsed[parsed.length - 1];
  const offsets = [...new Set(parsed.map((o) => o.offsetMinutes))];
  const summary =
    `${parsed.length} occurrence${parsed.length === 1 ? "" : "s"} in ${timezone}` +
    (first && last ? ` from ${formatLocalDate(first.date, first.weekday)} ${first.time} to ${formatLocalDate(last.date, last.weekday)} ${last.time}` : "") +
    (shifts.length ? `, ${shifts.length} UTC offset change${shifts.length === 1 ? "" : "s"} (daylight saving)` : "");

  return (
    <figure className="schedule-preview" data-testid="schedule-preview">
      <svg
        className="timeline"
        viewBox={`0 0 ${box.width} ${box.height}`}
        role="img"
        aria-label={summary}
        preserveAspectRatio="xMidYMid meet"
      >
        {layout.yTicks.map((tick) => (
          <g key={tick.label}>
            <line className="grid" x1={layout.plot.x0} x2={layout.plot.x1} y1={tick.y} y2={tick.y} />
            <text className="tick" x={layout.plot.x0 - 8} y={tick.y + 4} textAnchor="end">
              {tick.label}
            </text>
          </g>
        ))}
        {layout.shifts.map((shift) => (
          <g key={`${shift.x}-${shift.label}`} className="dst-marker">
            <line x1={shift.x} x2={shift.x} y1={layout.plot.y0} y2={layout.plot.y1} />
            <text x={shift.x + 4} y={layout.plot.y0 + 10}>
              {shift.label}
            </text>
          </g>
        ))}
        {layout.points.length > 1 ? <polyline className="wall-clock" points={layout.points.map((p) => `${p.x},${p.y}`).join(" ")} /> : null}
        {layout.points.map((point) => (
          <g key={point.occurrence.iso}>
            <circle className={point.shifted ? "occ occ-shifted" : "occ"} cx={point.x} cy={point.y} r={5}>
              <title>
                {formatLocalDate(point.occurrence.date, point.occurrence.weekday)} {point.occurrence.time} ({formatOffset(point.occurrence.offsetMinutes)})
              </title>
            </circle>
            {point.labelled ? (
              <>
                <line className="tick-mark" x1={point.x} x2={point.x} y1={layout.plot.y1} y2={layout.plot.y1 + 5} />
                <text className="tick" x={point.x} y={layout.plot.y1 + 18} textAnchor="middle">
                  {formatLocalDate(point.occurrence.date, point.occurrence.weekday, false)}
                </text>
                <text className="tick tick-time" x={point.x} y={layout.plot.y1 + 32} textAnchor="middle">
                  {point.occurrence.time}
                </text>
              </>
            ) : null}
          </g>
        ))}
        <line className="axis" x1={layout.plot.x0} x2={layout.plot.x1} y1={layout.plot.y1} y2={layout.plot.y1} />
      </svg>
      <figcaption className="small muted">
        Local wall-clock times in <strong>{timezone}</strong> (up: time of day).{" "}
        {offsets.map((offset, index) => (
          <span key={offset} className="legend">
            <span className={`legend-dot ${index === 0 ? "" : "occ-shifted"}`} aria-hidden="true" /> {formatOffset(offset)}
            {index > 0 ? " (after a change)" : ""}
          </span>
        ))}
      </figcaption>
      <ol className="calendar-strip" aria-label="Occurrences by day">
        {days.map((day) => (
          <li key={day.date} className={day.offsetChanged ? "day day-shifted" : "day"}>
            <span className="day-date">{formatLocalDate(day.date, day.weekday)}</span>
            {day.occurrences.map((occurrence) => (
              <time key={occurrence.iso} dateTime={occurrence.iso} className="day-time" data-testid="occurrence">
                {occurrence.time}
              </time>
            ))}
            {day.offsetChanged ? (
              <span className="badge badge-dst" title="The UTC offset changed (daylight saving): the wall-clock time stays.">
                now {formatOffset(day.occurrences[0]?.offsetMinutes ?? 0)}
              </span>
            ) : null}
          </li>
        ))}
      </ol>
    </figure>
  );
}
