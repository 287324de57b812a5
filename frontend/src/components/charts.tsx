/**
 * Small SVG charts (bars and lines) drawn from src/lib/charts.ts. Each is an image with a summary for
 * screen readers and a "Show as table" disclosure with the exact figures.
 */
import { type ReactNode, useId } from "react";
import { barGeometry, type Box, formatCompact, labelIndexes, linearScale, linePath, niceTicks, pointX } from "../lib/charts";

const WIDTH = 640;

/** Labels near the plot's edges grow inwards, so that the first and last never stick out of the image. */
function labelAnchor(x: number, box: Box): "start" | "middle" | "end" {
  if (x < box.left + 36) return "start";
  if (x > box.width - box.right - 36) return "end";
  return "middle";
}

function Frame({ box, ticks, labels, children }: { box: Box; ticks: number[]; labels: { x: number; text: string }[]; children: ReactNode }) {
  const yMax = ticks.at(-1) ?? 1;
  const y = linearScale([0, yMax], [box.height - box.bottom, box.top]);
  return (
    <>
      {ticks.map((tick) => (
        <g key={tick}>
          <line className="chart-grid" x1={box.left} x2={box.width - box.right} y1={y(tick)} y2={y(tick)} />
          <text className="chart-tick" x={box.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
            {formatCompact(tick)}
          </text>
        </g>
      ))}
      {children}
      <line className="chart-axis" x1={box.left} x2={box.width - box.right} y1={box.height - box.bottom} y2={box.height - box.bottom} />
      {labels.map((label, index) => (
        <text key={index} className="chart-tick" x={label.x} y={box.height - box.bottom + 16} textAnchor={labelAnchor(label.x, box)}>
          {label.text}
        </text>
      ))}
    </>
  );
}

function DataTable({ caption, labels, series }: { caption: string; labels: string[]; series: { label: string; values: readonly number[] }[] }) {
  return (
    <details className="chart-table">
      <summary>Show as table</summary>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{caption}</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              {series.map((s) => (
                <th key={s.label} scope="col">
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((label, index) => (
              <tr key={`${label}-${index}`}>
                <th scope="row">{label}</th>
                {series.map((s) => (
                  <td key={s.label}>{(s.values[index] ?? 0).toLocaleString()}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** One value per label as vertical bars (e.g. messages sent per day). */
export function BarChart({
  labels,
  values,
  summary,
  valueLabel,
  height = 220,
  maxLabels = 8,
  testId,
}: {
  labels: string[];
  values: readonly number[];
  /** What the image says to a screen reader: the total, the peak… */
  summary: string;
  valueLabel: string;
  height?: number;
  maxLabels?: number;
  testId?: string;
}) {
  const box: Box = { width: WIDTH, height, top: 12, right: 8, bottom: 26, left: 44 };
  const ticks = niceTicks(Math.max(0, ...values));
  const bars = barGeometry(values, box, ticks.at(-1) ?? 1);
  const shown = labelIndexes(labels.length, maxLabels);
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={summary} preserveAspectRatio="xMidYMid meet">
        <Frame box={box} ticks={ticks} labels={shown.map((i) => ({ x: (bars[i]?.x ?? 0) + (bars[i]?.width ?? 0) / 2, text: labels[i] ?? "" }))}>
          {bars.map((bar, index) => (
            <rect key={index} className="chart-bar" x={bar.x} y={bar.y} width={bar.width} height={Math.max(bar.height, values[index] ? 1 : 0)} rx={2}>
              <title>{`${labels[index]}: ${(values[index] ?? 0).toLocaleString()} ${valueLabel}`}</title>
            </rect>
          ))}
        </Frame>
      </svg>
      <DataTable caption={summary} labels={labels} series={[{ label: valueLabel, values }]} />
    </figure>
  );
}

export interface LineSeries {
  key: string;
  label: string;
  values: readonly number[];
}

/** Several metrics over the same buckets as lines, with a legend (colours by key: .line-sent, …). */
export function LineChart({
  labels,
  series,
  summary,
  height = 240,
  maxLabels = 7,
  legend = true,
  testId,
}: {
  labels: string[];
  series: LineSeries[];
  summary: string;
  height?: number;
  maxLabels?: number;
  /** Off when the page already names the colours (e.g. checkboxes with swatches). */
  legend?: boolean;
  testId?: string;
}) {
  const legendId = useId();
  const box: Box = { width: WIDTH, height, top: 12, right: 12, bottom: 26, left: 44 };
  const ticks = niceTicks(Math.max(0, ...series.flatMap((s) => s.values)));
  const y = linearScale([0, ticks.at(-1) ?? 1], [box.height - box.bottom, box.top]);
  const count = labels.length;
  const shown = labelIndexes(count, maxLabels);
  // Dots only when there are few points (a dense hourly month reads better as plain lines).
  const dots = count <= 48;
  return (
    <figure className="chart" data-testid={testId}>
      <ul className={legend ? "chart-legend" : "visually-hidden"} id={legendId}>
        {series.map((s) => (
          <li key={s.key}>
            <span className={`legend-swatch line-${s.key}`} aria-hidden="true" /> {s.label}
          </li>
        ))}
      </ul>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={summary} aria-describedby={legendId} preserveAspectRatio="xMidYMid meet">
        <Frame box={box} ticks={ticks} labels={shown.map((i) => ({ x: pointX(i, count, box), text: labels[i] ?? "" }))}>
          {series.map((s) => {
            const points = s.values.map((value, i) => ({ x: pointX(i, count, box), y: y(value) }));
            return (
              <g key={s.key} className={`chart-line line-${s.key}`}>
                <path d={linePath(points)} />
                {dots
                  ? points.map((p, i) => (
                      <circle key={i} cx={p.x} cy={p.y} r={2.5}>
                        <title>{`${labels[i]}: ${(s.values[i] ?? 0).toLocaleString()} ${s.label.toLowerCase()}`}</title>
                      </circle>
                    ))
                  : null}
              </g>
            );
          })}
        </Frame>
      </svg>
      <DataTable caption={summary} labels={labels} series={series} />
    </figure>
  );
}
