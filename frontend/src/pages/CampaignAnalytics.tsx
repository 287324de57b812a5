/**
 * /campaigns/:id/analytics — what a campaign did (GET /analytics/campaign/{id}): the funnel and its rates,
 * the hourly or daily series, the A/B result in words, breakdowns by variant, language, platform and run,
 * and the same figures as CSV.
 */
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api, call, type Schemas, type Workspace } from "../api/client";
import { LineChart } from "../components/charts";
import { DataTable } from "../components/lists";
import { Button, Card, EmptyState, ErrorAlert, Field, Loading, PageHeader, SelectField, StatTile, StatusBadge } from "../components/ui";
import {
  type AbTest,
  attachmentName,
  bucketLabel,
  describeAbTest,
  FUNNEL_KEYS,
  formatPValue,
  formatRate,
  funnelPercent,
  METRIC_LABELS,
  RANGE_PRESETS,
  type RangePreset,
  RATE_DEFINITIONS,
  RATE_LABELS,
  rangeQuery,
  SERIES_METRICS,
  type SeriesMetric,
  seriesTotals,
  zonedDate,
  addDays,
} from "../lib/analytics";
import { saveBlob } from "../lib/download";
import { formatDateTime } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";

type Stats = Schemas["CampaignAnalytics"];
type Counts = Schemas["VariantAnalytics"];
type Granularity = "" | "hour" | "day";
type Dimension = "variant" | "language" | "platform" | "run";

const DEFAULT_METRICS: SeriesMetric[] = ["sent", "delivered", "opened", "clicked"];
/** The counts of the breakdown table, in funnel order (its rates follow them). */
const BREAKDOWN_COUNTS = ["targeted", "sent", "delivered", "opened", "clicked", "failed", "invalid", "suppressed"] as const;
const DIMENSIONS: { value: Dimension; label: string }[] = [
  { value: "variant", label: "Variant" },
  { value: "language", label: "Language" },
  { value: "platform", label: "Platform" },
  { value: "run", label: "Run" },
];

export function CampaignAnalyticsPage() {
  const { id = "" } = useParams();
  const { workspace } = useCurrentWorkspace();
  if (!workspace) return null;
  return <CampaignAnalytics key={`${workspace.id}-${id}`} workspace={workspace} id={id} />;
}

function CampaignAnalytics({ workspace, id }: { workspace: Workspace; id: string }) {
  const timezone = workspace.timezone || "UTC";
  const [preset, setPreset] = useState<RangePreset>("7d");
  const today = zonedDate(Date.now(), timezone);
  const [custom, setCustom] = useState({ from: addDays(today, -6), to: today });
  const [granularity, setGranularity] = useState<Granularity>("");
  const range = useMemo(() => rangeQuery(preset, timezone, Date.now(), custom), [preset, timezone, custom]);
  const query = range ? { ...range, ...(granularity ? { granularity } : {}) } : null;
  const headers = wsHeader(workspace.id);

  const stats = useQuery({
    queryKey: wsKeys.campaignAnalytics(workspace.id, id, query ?? {}),
    enabled: query !== null,
    placeholderData: keepPreviousData,
    queryFn: (): Promise<Stats> =>
      call(api.GET("/api/v1/analytics/campaign/{campaign_id}/", { params: { path: { campaign_id: id }, query: query ?? {} }, headers })),
  });
  const download = useMutation({
    mutationFn: async () => {
      // A plain link cannot send the bearer token: fetch through the client (refresh included), then save.
      const pending = api.GET("/api/v1/analytics/campaign/{campaign_id}/export.csv", {
        params: { path: { campaign_id: id }, query: query ?? {} },
        headers,
        parseAs: "blob",
      });
      const blob = await call(pending);
      const { response } = await pending;
      saveBlob(blob as Blob, attachmentName(response.headers.get("Content-Disposition"), `campaign-${id}.csv`));
    },
  });

  const data = stats.data;
  return (
    <>
      <PageHeader
        title={data ? `Analytics: ${data.name}` : "Campaign analytics"}
        description={
          <>
            <Link to={`/campaigns/${id}`}>← Campaign</Link>
            {data ? (
              <>
                {" "}
                · <StatusBadge status={data.status} /> · <Link to={`/notifications?campaign=${id}`}>Runs</Link>
              </>
            ) : null}
          </>
        }
        actions={
          <Button onClick={() => download.mutate()} busy={download.isPending} disabled={!query}>
            Download CSV
          </Button>
        }
      />
      <ErrorAlert error={download.error} title="The CSV could not be downloaded:" />
      <Card title="Range" className="range-card">
        <div className="inline-form">
          <SelectField label="Period" name="range" value={preset} onValueChange={(value) => setPreset(value as RangePreset)} options={RANGE_PRESETS} />
          {preset === "custom" ? (
            <>
              <Field label="From" name="from" type="date" value={custom.from} max={custom.to} onValueChange={(from) => setCustom((prev) => ({ ...prev, from }))} />
              <Field
                label="To (included)"
                name="to"
                type="date"
                value={custom.to}
                min={custom.from}
                onValueChange={(to) => setCustom((prev) => ({ ...prev, to }))}
                error={range ? undefined : "Choose a start on or before the end."}
              />
            </>
          ) : null}
          <SelectField
            label="Chart by"
            name="granularity"
            value={granularity}
            onValueChange={(value) => setGranularity(value as Granularity)}
            options={[
              { value: "", label: "Automatic" },
              { value: "hour", label: "Hour" },
              { value: "day", label: "Day" },
            ]}
          />
        </div>
        <p className="muted small">
          Days and hours in the workspace's timezone ({timezone}). The funnel counts every run of the campaign; the chart shows the chosen period.
        </p>
      </Card>
      {stats.isLoading ? <Loading /> : null}
      <ErrorAlert error={stats.error} />
      {data ? (
        <div aria-busy={stats.isFetching || undefined}>
          <Funnel stats={data} />
          <Series stats={data} />
          <AbResult ab={data.ab_test} variants={data.breakdown.variant} />
          <Breakdowns stats={data} />
        </div>
      ) : null}
    </>
  );
}

function Funnel({ stats }: { stats: Stats }) {
  const top = Math.max(1, ...FUNNEL_KEYS.map((key) => stats[key]));
  return (
    <Card title="Funnel">
      <ol className="funnel" aria-label="Funnel">
        {FUNNEL_KEYS.map((key) => (
          <li key={key} data-testid={`funnel-${key}`}>
            <span className="funnel-label">{METRIC_LABELS[key]}</span>
            <span className="funnel-bar" aria-hidden="true">
              <span style={{ width: `${funnelPercent(stats[key], top)}%` }} />
            </span>
            <strong className="funnel-value">{stats[key].toLocaleString()}</strong>
          </li>
        ))}
      </ol>
      <div className="stat-grid">
        {(Object.keys(RATE_LABELS) as (keyof typeof RATE_LABELS)[]).map((key) => (
          <StatTile key={key} label={RATE_LABELS[key]} value={formatRate(stats[key])} hint={RATE_DEFINITIONS[key]} testId={`rate-${key}`} />
        ))}
      </div>
      <ul className="count-legend">
        {(["failed", "invalid", "suppressed", "pending", "unsubscribed"] as const).map((key) => (
          <li key={key} data-testid={`count-${key}`}>
            <strong>{stats[key].toLocaleString()}</strong> {METRIC_LABELS[key]?.toLowerCase()}
          </li>
        ))}
      </ul>
      <p className="muted small">
        Targeted = sent + failed + invalid + suppressed + pending. Delivered, opened and clicked come from the SDK's events, once per message.
      </p>
    </Card>
  );
}

function Series({ stats }: { stats: Stats }) {
  const [metrics, setMetrics] = useState<SeriesMetric[]>(DEFAULT_METRICS);
  const { series } = stats;
  const labels = series.points.map((p) => bucketLabel(p.start, series.granularity, series.timezone));
  const lines = metrics.map((key) => ({ key, label: METRIC_LABELS[key] ?? key, values: series.points.map((p) => p[key]) }));
  const sent = seriesTotals(series.points.map((p) => p.sent));
  const per = series.granularity === "hour" ? "hour" : "day";
  const summary =
    `${lines.map((l) => l.label).join(", ") || "No metric"} per ${per} from ${formatDateTime(series.from)} to ${formatDateTime(series.to)}` +
    ` (${series.timezone}): ${sent.total.toLocaleString()} sent in this range.`;
  const toggle = (key: SeriesMetric) =>
    setMetrics((prev) => (prev.includes(key) ? prev.filter((k) => k !== key) : SERIES_METRICS.filter((k) => k === key || prev.includes(k))));
  return (
    <Card title="Over time">
      <fieldset className="plain">
        <legend className="visually-hidden">Metrics to draw</legend>
        <div className="checkbox-row">
          {SERIES_METRICS.map((key) => (
            <label key={key} className="checkbox">
              <input type="checkbox" checked={metrics.includes(key)} onChange={() => toggle(key)} />
              <span>
                <span className={`legend-swatch line-${key}`} aria-hidden="true" /> {METRIC_LABELS[key]}
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      {series.points.length === 0 ? (
        <EmptyState>No {per}s in this period.</EmptyState>
      ) : (
        <LineChart
          testId="campaign-series"
          labels={labels}
          series={lines}
          summary={summary}
          legend={false}
          maxLabels={series.granularity === "hour" ? 5 : 7}
        />
      )}
    </Card>
  );
}

function AbResult({ ab, variants }: { ab: AbTest; variants: Counts[] }) {
  const ready = ab.p_value !== null && !ab.reason;
  return (
    <Card title="A/B test">
      <p className={ready ? (ab.significant ? "verdict verdict-ok" : "verdict") : "muted"} data-testid="ab-verdict">
        {describeAbTest(ab, variants)}
      </p>
      {ready ? (
        <p className="muted small">
          Two-proportion z-test on click-through (clicked / delivered) between variants {ab.variants_compared.join(" and ")}: z ={" "}
          {ab.z?.toFixed(2)}, {formatPValue(ab.p_value ?? 1)}. Significant means p &lt; {(1 - ab.confidence).toFixed(2)}: a difference this large would
          rarely happen by chance alone.
        </p>
      ) : null}
    </Card>
  );
}

function Breakdowns({ stats }: { stats: Stats }) {
  const [dimension, setDimension] = useState<Dimension>("variant");
  const rows: (Counts & { key: string; label: string })[] =
    dimension === "run"
      ? stats.breakdown.run.map((run) => ({ ...run, variant: null, key: run.notification_id, label: formatDateTime(run.scheduled_for) }))
      : stats.breakdown[dimension].map((row, index) => {
          const value = (row as unknown as Record<string, string | null>)[dimension];
          return { ...(row as Counts), key: `${value ?? "none"}-${index}`, label: value ?? "not attributed" };
        });
  const runs = new Map(stats.breakdown.run.map((r) => [r.notification_id, r]));
  return (
    <Card title="Breakdown">
      <div className="segmented" role="radiogroup" aria-label="Break down by">
        {DIMENSIONS.map((d) => (
          <label key={d.value} className={dimension === d.value ? "is-selected" : ""}>
            <input type="radio" name="breakdown" value={d.value} checked={dimension === d.value} onChange={() => setDimension(d.value)} />
            {d.label}
          </label>
        ))}
      </div>
      {rows.length === 0 ? <EmptyState>Nothing to break down yet: the campaign has not sent anything.</EmptyState> : null}
      <DataTable
        className="numbers"
        caption={`By ${dimension}`}
        columns={[DIMENSIONS.find((d) => d.value === dimension)?.label ?? "", ...BREAKDOWN_COUNTS.map((key) => METRIC_LABELS[key] ?? key), "Delivery", "Open", "CTR"]}
        rows={rows}
        row={(row) => (
          <tr key={row.key}>
            <th scope="row">
              {dimension === "run" ? (
                <>
                  <Link to={`/notifications/${row.key}`}>{row.label}</Link> <StatusBadge status={runs.get(row.key)?.status ?? ""} />
                </>
              ) : (
                row.label
              )}
            </th>
            {BREAKDOWN_COUNTS.map((key) => (
              <td key={key}>{row[key].toLocaleString()}</td>
            ))}
            <td>{formatRate(row.delivery_rate)}</td>
            <td>{formatRate(row.open_rate)}</td>
            <td>{formatRate(row.click_through_rate)}</td>
          </tr>
        )}
      />
    </Card>
  );
}
