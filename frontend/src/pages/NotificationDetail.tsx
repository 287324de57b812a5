/** One run: a live progress bar (polled while in flight), timing, top failure reasons, deliveries by status. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { api, call } from "../api/client";
import { DataTable, QueryStatus, withAny } from "../components/lists";
import {
  Button,
  Card,
  ConfirmDialog,
  DefinitionList,
  EmptyState,
  ErrorAlert,
  Loading,
  PageHeader,
  Pager,
  SelectField,
  StackedBar,
  StatusBadge,
} from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { canWriteCampaigns } from "../lib/abilities";
import { formatDateTime } from "../lib/format";
import { describeEta, donePercent, isFinalStatus, pollInterval, progressSegments, SEGMENT_KEYS, SEGMENT_LABELS, successRate } from "../lib/progress";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";
import type { NotificationDetail } from "./dataHooks";

const PAGE_SIZE = 50;
const DELIVERY_STATUSES = ["queued", "sent", "failed", "invalid", "suppressed"];

export function NotificationDetailPage() {
  const { id = "" } = useParams();
  const { workspace } = useCurrentWorkspace();
  const workspaceId = workspace?.id ?? "";
  const queryClient = useQueryClient();
  const cancel = useConfirmedMutation({
    mutationFn: async () =>
      (await call(api.POST("/api/v1/notifications/{id}/cancel/", { params: { path: { id } }, headers: wsHeader(workspaceId) }))) as unknown as NotificationDetail,
    onSuccess: async (updated: NotificationDetail) => {
      queryClient.setQueryData(wsKeys.notification(workspaceId, id), (previous: NotificationDetail | undefined) => ({ ...previous, ...updated }));
      await queryClient.invalidateQueries({ queryKey: wsKeys.notifications(workspaceId) });
    },
  });
  const run = useQuery({
    queryKey: wsKeys.notification(workspaceId, id),
    enabled: Boolean(workspace),
    queryFn: async () =>
      (await call(api.GET("/api/v1/notifications/{id}/", { params: { path: { id } }, headers: wsHeader(workspaceId) }))) as unknown as NotificationDetail,
    // Live while the run is in flight; stops by itself once it is final.
    refetchInterval: (query) => pollInterval(query.state.data?.status),
    refetchIntervalInBackground: false,
  });
  if (!workspace) return null;
  if (run.isLoading) return <Loading />;
  if (!run.data) return <ErrorAlert error={run.error ?? new Error("Run not found.")} />;
  const data = run.data;
  const final = isFinalStatus(data.status);
  const percent = donePercent(data.counts, final);
  const segments = progressSegments(data.counts);
  const eta = final ? null : describeEta(data.expected_finish_at);
  const rate = successRate(data.counts);

  return (
    <>
      <PageHeader
        title={data.title ? `Run: ${data.title}` : "Run"}
        description={
          <>
            <Link to="/notifications">← All runs</Link>
            {data.campaign_id ? (
              <>
                {" "}
                · <Link to={`/campaigns/${data.campaign_id}`}>Campaign</Link>
              </>
            ) : (
              " · API send"
            )}
          </>
        }
        actions={
          !final && !data.stop_reason && canWriteCampaigns(workspace.role) ? (
            <Button variant="danger" onClick={() => cancel.ask(true)}>
              Cancel run
            </Button>
          ) : null
        }
      />
      <ConfirmDialog {...cancel.dialog} title="Cancel this run?" confirmLabel="Cancel run">
        <p>Messages not sent yet are suppressed (reason: cancelled) and nothing more goes out. A batch already at the push service finishes.</p>
      </ConfirmDialog>
      <Card title="Progress">
        <div className="progress-head">
          <StatusBadge status={data.status} />
          <span className="progress-percent" aria-live="polite">
            {percent}% done
          </span>
          {!final ? <span className="muted small">updating live</span> : null}
          {!final && data.stop_reason === "cancelled" ? <span className="muted small">· cancelling: the messages not sent yet are being suppressed</span> : null}
          {eta ? <span className="muted">· {eta}</span> : null}
        </div>
        <div role="progressbar" aria-label="Run progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={`${percent}% done`}>
          <StackedBar label="Deliveries" parts={segments.map((s) => ({ ...s, label: SEGMENT_LABELS[s.key] }))} />
        </div>
        <ul className="count-legend">
          <li>
            <strong>{data.counts.targeted.toLocaleString()}</strong> targeted
          </li>
          {SEGMENT_KEYS.map((key) => (
            <li key={key} data-testid={`count-${key}`}>
              <span className={`legend-swatch bar-${key}`} aria-hidden="true" /> <strong>{data.counts[key].toLocaleString()}</strong> {SEGMENT_LABELS[key].toLowerCase()}
            </li>
          ))}
        </ul>
        {data.stop_reason ? (
          <div className="alert alert-error" role="alert">
            Stopped: {data.stop_message ?? data.stop_reason}
          </div>
        ) : null}
        <DefinitionList
          items={[
            { term: "Scheduled for", value: formatDateTime(data.scheduled_for) },
            { term: "Started", value: formatDateTime(data.started_at) },
            { term: "First sent", value: formatDateTime(data.first_sent_at) },
            { term: final ? "Finished" : "Expected finish", value: formatDateTime(final ? data.finished_at : data.expected_finish_at) },
            { term: "Success rate", value: rate === null ? "—" : `${rate}%` },
            ...(data.throttle_per_minute ? [{ term: "Throttle", value: `${data.throttle_per_minute.toLocaleString()} / min` }] : []),
          ]}
        />
      </Card>
      <Card title="Top failure reasons">
        {data.failure_reasons.length === 0 ? <EmptyState>No failures.</EmptyState> : null}
        <DataTable
          columns={["Status", "Reason", "Deliveries"]}
          rows={data.failure_reasons}
          row={(reason) => (
            <tr key={`${reason.status}-${reason.code}`}>
              <td>
                <StatusBadge status={reason.status} />
              </td>
              <td>
                <code>{reason.code}</code>
              </td>
              <td>{reason.count.toLocaleString()}</td>
            </tr>
          )}
        />
      </Card>
      <Deliveries workspaceId={workspaceId} id={id} live={!final} />
    </>
  );
}

function Deliveries({ workspaceId, id, live }: { workspaceId: string; id: string; live: boolean }) {
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(1);
  const deliveries = useQuery({
    queryKey: wsKeys.deliveries(workspaceId, id, { status, page }),
    placeholderData: (previous) => previous,
    refetchInterval: live ? 3000 : false,
    queryFn: () =>
      call(
        api.GET("/api/v1/notifications/{id}/deliveries/", {
          params: { path: { id }, query: { page, page_size: PAGE_SIZE, ...(status ? { status } : {}) } },
          headers: wsHeader(workspaceId),
        }),
      ),
  });
  const rows = deliveries.data?.results ?? [];
  return (
    <Card title="Deliveries">
      <div className="inline-form filters">
        <SelectField
          label="Delivery status"
          name="delivery_status"
          value={status}
          onValueChange={(value) => {
            setStatus(value);
            setPage(1);
          }}
          options={withAny(DELIVERY_STATUSES)}
        />
      </div>
      <QueryStatus query={deliveries} isEmpty={rows.length === 0} empty={`No deliveries${status ? ` with status ${status}` : ""}.`} />
      <DataTable
        caption="Deliveries"
        columns={["Subscriber", "Status", "Variant", "Attempts", "Error", "Sent"]}
        rows={rows}
        row={(delivery) => (
          <tr key={delivery.id}>
            <td>
              <code className="small">{delivery.subscriber_id ?? "—"}</code>
            </td>
            <td>
              <StatusBadge status={delivery.status} />
            </td>
            <td>
              {delivery.language}/{delivery.variant}
            </td>
            <td>{delivery.attempts}</td>
            <td className="details">{delivery.error_code ? `${delivery.error_code}${delivery.error_message ? `: ${delivery.error_message}` : ""}` : "—"}</td>
            <td className="nowrap">{formatDateTime(delivery.sent_at)}</td>
          </tr>
        )}
      />
      <Pager page={page} count={deliveries.data?.count ?? 0} pageSize={PAGE_SIZE} label="Delivery pages" onPage={setPage} />
    </Card>
  );
}
