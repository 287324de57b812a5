/** Devices and browsers of the workspace's apps, filtered by tag, status, platform, app and search. */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { Card, EmptyState, ErrorAlert, Field, Loading, PageHeader, Pager, SelectField, StatusBadge, useDebounced } from "../components/ui";
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
  const [params, setParams] = useSearchParams();
  const workspaceId = workspace?.id ?? "";
  const apps = useApps(workspaceId);
  const status = (params.get("status") ?? "") as Status | "";
  const platform = (params.get("platform") ?? "") as Platform | "";
  const app = params.get("app") ?? "";
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  const [tag, setTag] = useState(params.get("tag") ?? "");
  const [search, setSearch] = useState(params.get("search") ?? "");
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
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
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
        <form className="inline-form filters" role="search" aria-label="Filter subscribers" onSubmit={(event) => event.preventDefault()}>
          <Field
            label="Search"
            name="search"
            type="search"
            className="grow"
            placeholder="Subscriber id or external user id"
            value={search}
            onValueChange={(value) => {
              setSearch(value);
              if (page !== 1) update({ page: "" });
            }}
          />
          <Field
            label="Tag"
            name="tag"
            value={tag}
            onValueChange={(value) => {
              setTag(value);
              if (page !== 1) update({ page: "" });
            }}
          />
          <SelectField
            label="Status"
            name="status"
            value={status}
            onValueChange={(value) => update({ status: value })}
            options={[{ value: "", label: "Any" }, ...["active", "unsubscribed", "invalid"].map((s) => ({ value: s, label: s }))]}
          />
          <SelectField
            label="Platform"
            name="platform"
            value={platform}
            onValueChange={(value) => update({ platform: value })}
            options={[{ value: "", label: "Any" }, ...PLATFORMS.map((p) => ({ value: p, label: p }))]}
          />
          <SelectField
            label="App"
            name="app"
            value={app}
            onValueChange={(value) => update({ app: value })}
            options={[{ value: "", label: "Any" }, ...(apps.data ?? []).map((a) => ({ value: a.id, label: appLabel(a) }))]}
          />
        </form>
        {subscribers.isLoading ? <Loading /> : null}
        <ErrorAlert error={subscribers.error} />
        {subscribers.isSuccess && rows.length === 0 ? <EmptyState>No subscriber matches.</EmptyState> : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Subscribers</caption>
              <thead>
                <tr>
                  <th scope="col">Subscriber</th>
                  <th scope="col">App</th>
                  <th scope="col">Platform</th>
                  <th scope="col">Status</th>
                  <th scope="col">Tags</th>
                  <th scope="col">Locale / zone</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => (
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
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager page={page} count={subscribers.data?.count ?? 0} pageSize={PAGE_SIZE} label="Subscriber pages" onPage={(p) => update({ page: p === 1 ? "" : String(p) })} />
      </Card>
    </>
  );
}
