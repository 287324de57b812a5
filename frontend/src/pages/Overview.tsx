/** The workspace at a glance (GET /analytics/summary): messages sent, what is next, and the daily trend. */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { BarChart } from "../components/charts";
import { Card, ErrorAlert, Loading, PageHeader, StatTile } from "../components/ui";
import { addDays, dayLabel, fillDays, seriesTotals } from "../lib/analytics";
import { formatDateTime, formatRelative } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";

type Summary = Schemas["AnalyticsSummary"];

export function OverviewPage() {
  const { workspace } = useCurrentWorkspace();
  const workspaceId = workspace?.id ?? "";
  const summary = useQuery({
    queryKey: wsKeys.analyticsSummary(workspaceId),
    enabled: Boolean(workspace),
    queryFn: (): Promise<Summary> => call(api.GET("/api/v1/analytics/summary/", { headers: wsHeader(workspaceId) })),
    // "Sent today" moves while campaigns run; a minute is fresh enough for a glance.
    refetchInterval: 60_000,
    refetchIntervalInBackground: false,
  });
  if (!workspace) return null;
  return (
    <>
      <PageHeader title="Overview" description={`${workspace.name} at a glance.`} />
      {summary.isLoading ? <Loading /> : null}
      <ErrorAlert error={summary.error} />
      {summary.data ? <SummaryView summary={summary.data} /> : null}
    </>
  );
}

function SummaryView({ summary }: { summary: Summary }) {
  const [days, setDays] = useState<7 | 30>(7);
  const trend = days === 7 ? summary.trend_7d : summary.trend_30d;
  const first = trend[0]?.date ?? addDays(new Date().toISOString().slice(0, 10), 1 - days);
  const points = fillDays(trend, first, days);
  const values = points.map((p) => p.sent);
  const { total, peak, peakIndex } = seriesTotals(values);
  const peakDay = peakIndex >= 0 ? points[peakIndex]?.date : undefined;
  const chartSummary =
    `Messages sent per day, last ${days} days (${summary.timezone}): ${total.toLocaleString()} in all` +
    (peakDay ? `, most on ${dayLabel(peakDay)} (${peak.toLocaleString()}).` : ".");
  return (
    <>
      <section className="stat-grid" aria-label="Key figures">
        <StatTile label="Total sent" value={summary.total_notifications_sent.toLocaleString()} hint="messages, all time" testId="stat-total-sent" />
        <StatTile label="Sent today" value={summary.today_notifications.toLocaleString()} hint={`since midnight, ${summary.timezone}`} testId="stat-today" />
        <StatTile
          label="Next notification"
          value={summary.next_notification_time ? formatRelative(summary.next_notification_time) : "None"}
          hint={
            summary.next_notification_time ? (
              formatDateTime(summary.next_notification_time)
            ) : (
              <>
                nothing scheduled · <Link to="/campaigns">Campaigns</Link>
              </>
            )
          }
          testId="stat-next"
        />
        <StatTile label="Active campaigns" value={summary.active_campaign_count.toLocaleString()} hint={<Link to="/campaigns">scheduled or running</Link>} />
        <StatTile label="Connected apps" value={summary.connected_applications_count.toLocaleString()} hint={<Link to="/apps">Firebase and Web Push</Link>} />
      </section>
      <Card title="Messages sent per day">
        <div className="chart-head">
          <p className="muted small">
            Days in the workspace's timezone ({summary.timezone}). {total.toLocaleString()} sent in the last {days} days.
          </p>
          <div className="segmented" role="radiogroup" aria-label="Trend period">
            {([7, 30] as const).map((n) => (
              <label key={n} className={days === n ? "is-selected" : ""}>
                <input type="radio" name="trend_days" value={n} checked={days === n} onChange={() => setDays(n)} />
                {n} days
              </label>
            ))}
          </div>
        </div>
        <BarChart
          testId="trend-chart"
          labels={points.map((p) => dayLabel(p.date, undefined, days === 7))}
          values={values}
          valueLabel="sent"
          summary={chartSummary}
          maxLabels={days === 7 ? 7 : 6}
        />
      </Card>
    </>
  );
}
