/** Runs: one row per campaign occurrence or API send, filtered by campaign and status. */
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, call } from "../api/client";
import { DataTable, FilterBar, ParamSelect, QueryStatus, withAny } from "../components/lists";
import { Card, PageHeader, Pager, StackedBar, StatusBadge } from "../components/ui";
import { useListParams } from "../components/useListParams";
import { formatDateTime } from "../lib/format";
import { pollInterval, progressSegments, SEGMENT_LABELS } from "../lib/progress";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";
import { useCampaignNames } from "./dataHooks";

const PAGE_SIZE = 25;
const STATUSES = ["queued", "sending", "sent", "failed", "cancelled"];

export function NotificationsPage() {
  const { workspace } = useCurrentWorkspace();
  const list = useListParams();
  const { page } = list;
  const campaign = list.get("campaign");
  const status = list.get("status");
  const workspaceId = workspace?.id ?? "";
  const campaigns = useCampaignNames(workspaceId);
  const runs = useQuery({
    queryKey: wsKeys.notificationList(workspaceId, { campaign, status, page }),
    enabled: Boolean(workspace),
    placeholderData: (previous) => previous,
    queryFn: () =>
      call(
        api.GET("/api/v1/notifications/", {
          params: { query: { page, page_size: PAGE_SIZE, ...(campaign ? { campaign } : {}), ...(status ? { status } : {}) } },
          headers: wsHeader(workspaceId),
        }),
      ),
    // Keep the list moving while any run on this page is in flight.
    refetchInterval: (query) => (query.state.data?.results.some((r) => pollInterval(r.status)) ? 3000 : false),
  });
  if (!workspace) return null;
  const names = new Map((campaigns.data ?? []).map((c) => [c.id, c.name]));
  const rows = runs.data?.results ?? [];

  return (
    <>
      <PageHeader title="Notifications" description="Each run of a campaign, and each send through the API, with its delivery counts." />
      <Card>
        <FilterBar label="Filter runs">
          <ParamSelect
            list={list}
            label="Campaign"
            name="campaign"
            className="grow"
            options={withAny((campaigns.data ?? []).map((c) => ({ value: c.id, label: c.name })), "All campaigns and API sends")}
          />
          <ParamSelect list={list} label="Status" name="status" options={withAny(STATUSES)} />
        </FilterBar>
        <QueryStatus query={runs} isEmpty={rows.length === 0} empty="No runs yet. A run appears when a campaign sends." />
        <DataTable
          caption="Runs"
          columns={["Started", "Title", "Campaign", "Status", "Targeted", "Sent", "Failed", "Progress"]}
          rows={rows}
          row={(run) => (
            <tr key={run.id}>
              <td className="nowrap">
                <Link to={`/notifications/${run.id}`}>{formatDateTime(run.started_at ?? run.scheduled_for)}</Link>
              </td>
              <td>{run.title ?? "—"}</td>
              <td>
                {run.campaign_id ? <Link to={`/campaigns/${run.campaign_id}`}>{names.get(run.campaign_id) ?? "campaign"}</Link> : <span className="muted">API send</span>}
              </td>
              <td>
                <StatusBadge status={run.status} />
              </td>
              <td>{run.counts.targeted.toLocaleString()}</td>
              <td>{run.counts.sent.toLocaleString()}</td>
              <td>{(run.counts.failed + run.counts.invalid).toLocaleString()}</td>
              <td className="progress-cell">
                <StackedBar
                  label="Deliveries"
                  parts={progressSegments(run.counts).map((s) => ({ ...s, label: SEGMENT_LABELS[s.key] }))}
                />
              </td>
            </tr>
          )}
        />
        <Pager page={page} count={runs.data?.count ?? 0} pageSize={PAGE_SIZE} label="Run pages" onPage={list.goToPage} />
      </Card>
    </>
  );
}
