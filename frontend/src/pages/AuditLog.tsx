import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { api, type AuditEntry, call } from "../api/client";
import { Button, Card, EmptyState, ErrorAlert, Loading, PageHeader } from "../components/ui";
import { describeMetadata, formatDateTime } from "../lib/format";
import { canManageTeam } from "../lib/roles";
import { useCurrentWorkspace, workspaceKeys } from "../state/workspace";

const PAGE_SIZE = 50;

export function AuditLogPage() {
  const { workspace } = useCurrentWorkspace();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
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
  const pages = log.data ? Math.max(1, Math.ceil(log.data.count / PAGE_SIZE)) : 1;
  const goTo = (next: number) => setParams(next === 1 ? {} : { page: String(next) });

  return (
    <>
      <PageHeader title="Audit log" description={`Changes to members, invitations, API keys and settings of ${workspace.name}.`} />
      <Card>
        {log.isLoading ? <Loading /> : null}
        <ErrorAlert error={log.error} />
        {log.isSuccess && rows.length === 0 ? <EmptyState>Nothing recorded yet.</EmptyState> : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Audit log, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Details</th>
                  <th scope="col">IP address</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((entry) => (
                  <tr key={entry.id}>
                    <td className="nowrap">{formatDateTime(entry.created_at)}</td>
                    <td>{actorLabel(entry)}</td>
                    <td>
                      <code>{entry.action}</code>
                    </td>
                    <td className="details">{describeMetadata(entry.metadata)}</td>
                    <td className="mono">{entry.ip_address ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {pages > 1 ? (
          <nav className="pager" aria-label="Audit log pages">
            <Button onClick={() => goTo(page - 1)} disabled={page <= 1}>
              Newer
            </Button>
            <span aria-live="polite">
              Page {page} of {pages}
            </span>
            <Button onClick={() => goTo(page + 1)} disabled={page >= pages}>
              Older
            </Button>
          </nav>
        ) : null}
      </Card>
    </>
  );
}

function actorLabel(entry: AuditEntry): string {
  if (entry.actor) return entry.actor.full_name || entry.actor.email;
  if (entry.actor_api_key) return "API key";
  return "System";
}
