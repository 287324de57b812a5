/** Runs: one row per campaign occurrence or API send, filtered by campaign and status. */
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { Card, EmptyState, ErrorAlert, Loading, PageHeader, Pager, SelectField, StackedBar, StatusBadge } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { pollInterval, progressSegments, SEGMENT_LABELS } from "../lib/progress";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";
import { useCampaignNames } from "./dataHooks";

const PAGE_SIZE = 25;
const STATUSES = ["queued", "sending", "sent", "failed", "cancelled"];

export function NotificationsPage() {
  const { workspace } = useCurrentWorkspace();
  const [params, setParams] = useSearchParams();
  const campaign = params.get("campaign") ?? "";
  const status = params.get("status") ?? "";
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
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
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };
  const names = new Map((campaigns.data ?? []).map((c) => [c.id, c.name]));
  const rows = runs.data?.results ?? [];

  return (
    <>
      <PageHeader title="Notifications" description="Each run of a campaign, and each send through the API, with its delivery counts." />
      <Card>
        <form className="inline-form filters" aria-label="Filter runs" onSubmit={(event) => event.preventDefault()}>
          <SelectField
            label="Campaign"
            name="campaign"
            className="grow"
            value={campaign}
            onValueChange={(value) => update({ campaign: value })}
            options={[{ value: "", label: "All campaigns and API sends" }, ...(campaigns.data ?? []).map((c) => ({ value: c.id, label: c.name }))]}
          />
          <SelectField
            label="Status"
            name="status"
            value={status}
            onValueChange={(value) => update({ status: value })}
            options={[{ value: "", label: "Any" }, ...STATUSES.map((s) => ({ value: s, label: s }))]}
          />
        </form>
        {runs.isLoading ? <Loading /> : null}
        <ErrorAlert error={runs.error} />
        {runs.isSuccess && rows.length === 0 ? <EmptyState>No runs yet. A run appears when a campaign sends.</EmptyState> : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Runs</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Title</th>
                  <th scope="col">Campaign</th>
                  <th scope="col">Status</th>
                  <th scope="col">Targeted</th>
                  <th scope="col">Sent</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Progress</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((run) => (
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
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager page={page} count={runs.data?.count ?? 0} pageSize={PAGE_SIZE} label="Run pages" onPage={(p) => update({ page: p === 1 ? "" : String(p) })} />
      </Card>
    </>
  );
}
