import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { Card, EmptyState, ErrorAlert, Field, Loading, PageHeader, Pager, SelectField, StatusBadge, useDebounced } from "../components/ui";
import { canWriteCampaigns } from "../lib/abilities";
import { CAMPAIGN_STATUSES, CHANNELS, SCHEDULE_TYPES } from "../lib/campaigns";
import { formatDateTime } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";

const PAGE_SIZE = 20;

const ANY = { value: "", label: "Any" };

export function CampaignsPage() {
  const { workspace } = useCurrentWorkspace();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const channel = params.get("channel") ?? "";
  const scheduleType = params.get("schedule_type") ?? "";
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  const [search, setSearch] = useState(params.get("search") ?? "");
  const debouncedSearch = useDebounced(search.trim(), 350);

  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };

  useEffect(() => {
    if ((params.get("search") ?? "") !== debouncedSearch) update({ search: debouncedSearch });
  }, [debouncedSearch]);

  const workspaceId = workspace?.id ?? "";
  const filters = { status, channel, scheduleType, search: params.get("search") ?? "", page };
  const campaigns = useQuery({
    queryKey: wsKeys.campaignList(workspaceId, filters),
    enabled: Boolean(workspace),
    placeholderData: (previous) => previous,
    queryFn: () =>
      call(
        api.GET("/api/v1/campaigns/", {
          params: {
            query: {
              page,
              page_size: PAGE_SIZE,
              ...(status ? { status } : {}),
              ...(channel ? { channel_type: channel } : {}),
              ...(scheduleType ? { schedule_type: scheduleType } : {}),
              ...(filters.search ? { search: filters.search } : {}),
            },
          },
          headers: wsHeader(workspaceId),
        }),
      ),
  });
  if (!workspace) return null;
  const rows = campaigns.data?.results ?? [];
  const filtered = Boolean(status || channel || scheduleType || filters.search);

  return (
    <>
      <PageHeader
        title="Campaigns"
        description="Write the copy, pick an audience, schedule it once or on a recurring rule, and watch the runs."
        actions={
          canWriteCampaigns(workspace.role) ? (
            <Link className="btn btn-primary" to="/campaigns/new">
              New campaign
            </Link>
          ) : null
        }
      />
      <Card>
        <form className="inline-form filters" role="search" aria-label="Filter campaigns" onSubmit={(event) => event.preventDefault()}>
          <Field label="Search" name="search" type="search" className="grow" placeholder="Campaign name" value={search} onValueChange={setSearch} />
          <SelectField
            label="Status"
            name="status"
            value={status}
            onValueChange={(value) => update({ status: value })}
            options={[ANY, ...CAMPAIGN_STATUSES.map((s) => ({ value: s, label: s }))]}
          />
          <SelectField
            label="Channel"
            name="channel"
            value={channel}
            onValueChange={(value) => update({ channel: value })}
            options={[ANY, ...CHANNELS.map((c) => ({ value: c.value, label: c.label }))]}
          />
          <SelectField
            label="Schedule"
            name="schedule_type"
            value={scheduleType}
            onValueChange={(value) => update({ schedule_type: value })}
            options={[ANY, ...SCHEDULE_TYPES]}
          />
        </form>
        {campaigns.isLoading ? <Loading /> : null}
        <ErrorAlert error={campaigns.error} />
        {campaigns.isSuccess && rows.length === 0 ? (
          <EmptyState>{filtered ? "No campaign matches these filters." : "No campaigns yet. Create one to send your first notification."}</EmptyState>
        ) : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Campaigns</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Next run</th>
                  <th scope="col">Contents</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((campaign) => (
                  <tr key={campaign.id}>
                    <td>
                      <Link to={`/campaigns/${campaign.id}`}>{campaign.name}</Link>
                    </td>
                    <td>
                      <StatusBadge status={campaign.status} />
                    </td>
                    <td>{campaign.channel_type === "web_push" ? "Web push" : "App push"}</td>
                    <td>{SCHEDULE_TYPES.find((t) => t.value === campaign.schedule_type)?.label ?? campaign.schedule_type}</td>
                    <td className="nowrap">
                      {campaign.next_run_at ? (
                        <span title={`${campaign.next_run_at} (${campaign.timezone})`}>{campaign.next_run_at.slice(0, 16).replace("T", " ")}</span>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td>{campaign.content_count}</td>
                    <td className="nowrap">{formatDateTime(campaign.updated_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager page={page} count={campaigns.data?.count ?? 0} pageSize={PAGE_SIZE} label="Campaign pages" onPage={(p) => update({ page: p === 1 ? "" : String(p) })} />
      </Card>
    </>
  );
}
