/** Devices and browsers of the workspace's apps, filtered by tag, status, platform, app and search. */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, call } from "../api/client";
import { DataTable, FilterBar, ParamSelect, QueryStatus, withAny } from "../components/lists";
import { Card, Field, PageHeader, Pager, StatusBadge, useDebounced } from "../components/ui";
import { useListParams } from "../components/useListParams";
import { formatDateTime, formatRelative } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { PLATFORMS } from "../lib/segmentFilter";
import { useCurrentWorkspace } from "../state/workspace";
import { appLabel, useApps } from "./dataHooks";

const PAGE_SIZE = 50;
type Status = "active" | "invalid" | "unsubscribed";
type Platform = (typeof PLATFORMS)[number];

export function SubscribersPage() {
  const { workspace } = useCurrentWorkspace();
  const list = useListParams();
  const { page, update } = list;
  const workspaceId = workspace?.id ?? "";
  const apps = useApps(workspaceId);
  const status = list.get("status") as Status | "";
  const platform = list.get("platform") as Platform | "";
  const app = list.get("app");
  const [tag, setTag] = useState(list.get("tag"));
  const [search, setSearch] = useState(list.get("search"));
  const typed = useDebounced(JSON.stringify({ tag: tag.trim(), search: search.trim() }), 350);
  const { tag: tagFilter, search: searchFilter } = JSON.parse(typed) as { tag: string; search: string };

  const filters = { status, platform, app, page, tag: tagFilter, search: searchFilter };
  const subscribers = useQuery({
    queryKey: wsKeys.subscribers(workspaceId, filters),
    enabled: Boolean(workspace),
    placeholderData: (previous) => previous,
    queryFn: () =>
      call(
        api.GET("/api/v1/subscribers/", {
          params: {
            query: {
              page,
              page_size: PAGE_SIZE,
              ...(status ? { status } : {}),
              ...(platform ? { platform } : {}),
              ...(app ? { app } : {}),
              ...(tagFilter ? { tag: tagFilter } : {}),
              ...(searchFilter ? { search: searchFilter } : {}),
            },
          },
          headers: wsHeader(workspaceId),
        }),
      ),
  });
  if (!workspace) return null;
  // Typed filters apply once typing pauses (debounced above); meanwhile leave a later page at once.
  const typing = (setValue: (value: string) => void) => (value: string) => {
    setValue(value);
    if (page !== 1) update({ page: "" });
  };
  const appNames = new Map((apps.data ?? []).map((a) => [a.id, a.name]));
  const rows = subscribers.data?.results ?? [];

  return (
    <>
      <PageHeader
        title="Subscribers"
        description={`Devices and browsers that opted in through the SDK or your backend${subscribers.data ? ` — ${subscribers.data.count.toLocaleString()} match` : ""}.`}
      />
      <Card>
        <FilterBar label="Filter subscribers" search>
          <Field
            label="Search"
            name="search"
            type="search"
            className="grow"
            placeholder="Subscriber id or external user id"
            value={search}
            onValueChange={typing(setSearch)}
          />
          <Field label="Tag" name="tag" value={tag} onValueChange={typing(setTag)} />
          <ParamSelect list={list} label="Status" name="status" options={withAny(["active", "unsubscribed", "invalid"])} />
          <ParamSelect list={list} label="Platform" name="platform" options={withAny(PLATFORMS)} />
          <ParamSelect list={list} label="App" name="app" options={withAny((apps.data ?? []).map((a) => ({ value: a.id, label: appLabel(a) })))} />
        </FilterBar>
        <QueryStatus query={subscribers} isEmpty={rows.length === 0} empty="No subscriber matches." />
        <DataTable
          caption="Subscribers"
          columns={["Subscriber", "App", "Platform", "Status", "Tags", "Locale / zone", "Last seen"]}
          rows={rows}
          row={(s) => (
            <tr key={s.id}>
              <td>
                {s.external_user_id ? <strong>{s.external_user_id}</strong> : null}
                <div>
                  <code className="small">{s.id}</code>
                </div>
              </td>
              <td>{appNames.get(s.app_id) ?? "—"}</td>
              <td>
                {s.platform}
                {s.push_service ? <div className="muted small">{s.push_service}</div> : null}
              </td>
              <td>
                <StatusBadge status={s.status} />
                {s.status_reason ? <div className="muted small">{s.status_reason}</div> : null}
              </td>
              <td>
                {s.tags.map((t) => (
                  <span key={t} className="badge">
                    {t}
                  </span>
                ))}
              </td>
              <td className="small">
                {s.locale || "—"}
                <div className="muted">{s.timezone}</div>
              </td>
              <td className="nowrap" title={formatDateTime(s.last_seen_at)}>
                {formatRelative(s.last_seen_at)}
              </td>
            </tr>
          )}
        />
        <Pager page={page} count={subscribers.data?.count ?? 0} pageSize={PAGE_SIZE} label="Subscriber pages" onPage={list.goToPage} />
      </Card>
    </>
  );
}
