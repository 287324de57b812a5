import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { api, type AuditEntry, call } from "../api/client";
import { DataTable, QueryStatus } from "../components/lists";
import { Card, ErrorAlert, PageHeader, Pager } from "../components/ui";
import { pageParam } from "../components/useListParams";
import { describeMetadata, formatDateTime } from "../lib/format";
import { canManageTeam } from "../lib/roles";
import { useCurrentWorkspace, workspaceKeys } from "../state/workspace";

const PAGE_SIZE = 50;

export function AuditLogPage() {
  const { workspace } = useCurrentWorkspace();
  const [params, setParams] = useSearchParams();
  const page = pageParam(params);
  const enabled = workspace !== null && canManageTeam(workspace.role);
  const log = useQuery({
    queryKey: workspaceKeys.auditLog(workspace?.id ?? "", page),
    queryFn: () =>
      call(
        api.GET("/api/v1/workspaces/{workspace_pk}/audit-log/", {
          params: { path: { workspace_pk: workspace?.id ?? "" }, query: { page, page_size: PAGE_SIZE } },
        }),
      ),
    enabled,
    placeholderData: keepPreviousData,
  });
  if (!workspace) return null;
  if (!enabled) {
    return (
      <>
        <PageHeader title="Audit log" />
        <ErrorAlert error={new Error("Only the owner and admins can read the audit log.")} />
      </>
    );
  }
  const rows = log.data?.results ?? [];

  return (
    <>
      <PageHeader title="Audit log" description={`Changes to members, invitations, API keys and settings of ${workspace.name}.`} />
      <Card>
        <QueryStatus query={log} isEmpty={rows.length === 0} empty="Nothing recorded yet." />
        <DataTable
          caption="Audit log, newest first"
          columns={["When", "Who", "Action", "Details", "IP address"]}
          rows={rows}
          row={(entry) => (
            <tr key={entry.id}>
              <td className="nowrap">{formatDateTime(entry.created_at)}</td>
              <td>{actorLabel(entry)}</td>
              <td>
                <code>{entry.action}</code>
              </td>
              <td className="details">{describeMetadata(entry.metadata)}</td>
              <td className="mono">{entry.ip_address ?? "—"}</td>
            </tr>
          )}
        />
        <Pager
          page={page}
          count={log.data?.count ?? 0}
          pageSize={PAGE_SIZE}
          label="Audit log pages"
          previousLabel="Newer"
          nextLabel="Older"
          onPage={(next) => setParams(next === 1 ? {} : { page: String(next) })}
        />
      </Card>
    </>
  );
}

function actorLabel(entry: AuditEntry): string {
  if (entry.actor) return entry.actor.full_name || entry.actor.email;
  if (entry.actor_api_key) return "API key";
  return "System";
}
