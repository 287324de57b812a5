import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, call } from "../api/client";
import { DataTable, FilterBar, ParamSelect, QueryStatus, withAny } from "../components/lists";
import { Card, Field, PageHeader, Pager, StatusBadge, useDebounced } from "../components/ui";
import { useListParams } from "../components/useListParams";
import { canWriteCampaigns } from "../lib/abilities";
import { CAMPAIGN_STATUSES, CHANNELS, SCHEDULE_TYPES } from "../lib/campaigns";
import { formatDateTime, formatWallClock } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";

const PAGE_SIZE = 20;

export function CampaignsPage() {
  const { workspace } = useCurrentWorkspace();
  const list = useListParams();
  const { page, update } = list;
  const status = list.get("status");
  const channel = list.get("channel");
  const scheduleType = list.get("schedule_type");
  const [search, setSearch] = useState(list.get("search"));
  const debouncedSearch = useDebounced(search.trim(), 350);

  useEffect(() => {
    if (list.get("search") !== debouncedSearch) update({ search: debouncedSearch });
  }, [debouncedSearch]);

  const workspaceId = workspace?.id ?? "";
  const filters = { status, channel, scheduleType, search: list.get("search"), page };
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
        <FilterBar label="Filter campaigns" search>
          <Field label="Search" name="search" type="search" className="grow" placeholder="Campaign name" value={search} onValueChange={setSearch} />
          <ParamSelect list={list} label="Status" name="status" options={withAny(CAMPAIGN_STATUSES)} />
          <ParamSelect list={list} label="Channel" name="channel" options={withAny(CHANNELS)} />
          <ParamSelect list={list} label="Schedule" name="schedule_type" options={withAny(SCHEDULE_TYPES)} />
        </FilterBar>
        <QueryStatus
          query={campaigns}
          isEmpty={rows.length === 0}
          empty={filtered ? "No campaign matches these filters." : "No campaigns yet. Create one to send your first notification."}
        />
        <DataTable
          caption="Campaigns"
          columns={["Name", "Status", "Channel", "Schedule", "Next run", "Contents", "Updated"]}
          rows={rows}
          row={(campaign) => (
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
                  <span title={`${campaign.next_run_at} (${campaign.timezone})`}>{formatWallClock(campaign.next_run_at)}</span>
                ) : (
                  "—"
                )}
              </td>
              <td>{campaign.content_count}</td>
              <td className="nowrap">{formatDateTime(campaign.updated_at)}</td>
            </tr>
          )}
        />
        <Pager page={page} count={campaigns.data?.count ?? 0} pageSize={PAGE_SIZE} label="Campaign pages" onPage={list.goToPage} />
      </Card>
    </>
  );
}
