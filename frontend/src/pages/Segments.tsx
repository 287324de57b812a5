/** Saved audiences: a filter over subscribers, edited as a form (or JSON), with a live count. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Card, ConfirmDialog, EmptyState, ErrorAlert, Field, Loading, Notice, PageHeader, ProblemAlert, TextAreaField, useDebounced } from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { canManageAudience } from "../lib/abilities";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { EMPTY_FILTER_FORM, type FilterForm, filterToForm, formToFilter } from "../lib/segmentFilter";
import { useCurrentWorkspace } from "../state/workspace";
import { type App, type Segment, useApps, useSegments } from "./dataHooks";
import { SegmentFilterFields } from "./SegmentFilterFields";

export function SegmentsPage() {
  const { workspace } = useCurrentWorkspace();
  const [selected, setSelected] = useState<Segment | "new" | null>(null);
  const workspaceId = workspace?.id ?? "";
  const segments = useSegments(workspaceId);
  const apps = useApps(workspaceId);
  if (!workspace) return null;
  const writer = canManageAudience(workspace.role);
  const rows = segments.data ?? [];
  const current = selected === "new" ? null : (rows.find((s) => s.id === selected?.id) ?? selected);

  return (
    <>
      <PageHeader
        title="Segments"
        description="Saved audiences for campaigns: tags, attributes, platform, locale and recent activity."
        actions={
          writer ? (
            <Button variant="primary" onClick={() => setSelected("new")}>
              New segment
            </Button>
          ) : null
        }
      />
      <div className="grid-2 segments-layout">
        <Card title="Saved segments">
          {segments.isLoading ? <Loading /> : null}
          <ErrorAlert error={segments.error} />
          {segments.isSuccess && rows.length === 0 ? <EmptyState>No segments yet.</EmptyState> : null}
          <ul className="segment-list">
            {rows.map((segment) => (
              <li key={segment.id} className={current?.id === segment.id ? "is-current" : ""}>
                <button type="button" className="link-button" onClick={() => setSelected(segment)}>
                  {segment.name}
                </button>
                {segment.description ? <p className="muted small">{segment.description}</p> : null}
              </li>
            ))}
          </ul>
        </Card>
        {selected !== null && apps.data ? (
          <SegmentEditor
            key={selected === "new" ? "new" : selected.id}
            workspace={workspace}
            segment={current ?? null}
            apps={apps.data}
            onSaved={setSelected}
            onDeleted={() => setSelected(null)}
          />
        ) : (
          <Card>
            <EmptyState>{writer ? "Choose a segment to edit, or create a new one." : "Choose a segment to see who is in it."}</EmptyState>
          </Card>
        )}
      </div>
    </>
  );
}

function SegmentEditor({
  workspace,
  segment,
  apps,
  onSaved,
  onDeleted,
}: {
  workspace: Workspace;
  segment: Segment | null;
  apps: App[];
  onSaved: (segment: Segment) => void;
  onDeleted: () => void;
}) {
  const queryClient = useQueryClient();
  const writer = canManageAudience(workspace.role);
  const headers = wsHeader(workspace.id);
  const [name, setName] = useState(segment?.name ?? "");
  const [description, setDescription] = useState(segment?.description ?? "");
  const initialForm = segment ? filterToForm(segment.filter) : { ...EMPTY_FILTER_FORM };
  const [mode, setMode] = useState<"form" | "json">(initialForm ? "form" : "json");
  const [form, setForm] = useState<FilterForm>(initialForm ?? { ...EMPTY_FILTER_FORM });
  const [jsonText, setJsonText] = useState(JSON.stringify(segment?.filter ?? {}, null, 2));
  const [saved, setSaved] = useState(false);

  let filter: Record<string, unknown> | null = null;
  let jsonError: string | null = null;
  if (mode === "form") filter = formToFilter(form);
  else {
    try {
      const parsed: unknown = JSON.parse(jsonText);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) filter = parsed as Record<string, unknown>;
      else jsonError = "The filter must be a JSON object.";
    } catch {
      jsonError = "Not valid JSON yet.";
    }
  }

  const switchMode = (next: "form" | "json") => {
    if (next === mode) return;
    if (next === "json") setJsonText(JSON.stringify(filter ?? {}, null, 2));
    else {
      const back = filter ? filterToForm(filter) : null;
      if (!back) return; // the form cannot show this filter; stay in JSON
      setForm(back);
    }
    setMode(next);
  };

  const filterKey = useDebounced(JSON.stringify(filter), 400);
  const preview = useQuery({
    queryKey: wsKeys.segmentPreview(workspace.id, `sample:${filterKey}`),
    enabled: filterKey !== "null",
    placeholderData: (previous) => previous,
    retry: false,
    queryFn: () => call(api.POST("/api/v1/segments/preview/", { body: { filter: JSON.parse(filterKey) as unknown, sample_size: 5 }, headers })),
  });

  const save = useMutation({
    mutationFn: () => {
      const body = { name: name.trim(), description, filter: filter ?? {} };
      return segment
        ? call(api.PATCH("/api/v1/segments/{id}/", { params: { path: { id: segment.id } }, body, headers }))
        : call(api.POST("/api/v1/segments/", { body, headers }));
    },
    onMutate: () => setSaved(false),
    onSuccess: async (result) => {
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: wsKeys.segments(workspace.id) });
      onSaved(result);
    },
  });
  const remove = useConfirmedMutation({
    mutationFn: () =>
      call(
        api.DELETE("/api/v1/segments/{id}/", {
          params: { path: { id: segment?.id ?? "" } },
          headers,
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: wsKeys.segments(workspace.id) });
      onDeleted();
    },
  });
  const server = fieldMessages(save.error);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim() || !filter) return;
    save.mutate();
  };
  const formCannotShow = mode === "json" && filter !== null && filterToForm(filter) === null;

  return (
    <Card title={segment ? `Segment: ${segment.name}` : "New segment"}>
      <form noValidate onSubmit={submit}>
        <ErrorAlert error={Object.keys(server).some((k) => k === "name" || k === "description") ? null : save.error} />
        <fieldset className="plain" disabled={!writer}>
          <Field label="Segment name" name="segment_name" value={name} onValueChange={setName} error={server.name ?? (save.isIdle || name.trim() ? undefined : "Name it.")} />
          <Field label="Description" name="segment_description" value={description} onValueChange={setDescription} error={server.description} />
        </fieldset>
        <div className="radio-row" role="radiogroup" aria-label="Edit the filter as">
          <label className="checkbox">
            <input type="radio" name="segment_mode" checked={mode === "form"} onChange={() => switchMode("form")} disabled={formCannotShow} />
            <span>Form</span>
          </label>
          <label className="checkbox">
            <input type="radio" name="segment_mode" checked={mode === "json"} onChange={() => switchMode("json")} />
            <span>JSON</span>
          </label>
        </div>
        {mode === "form" ? (
          <SegmentFilterFields value={form} onChange={setForm} apps={apps} disabled={!writer} />
        ) : (
          <TextAreaField
            label="Filter (JSON)"
            name="segment_filter"
            rows={10}
            className="field-mono"
            spellCheck={false}
            readOnly={!writer}
            value={jsonText}
            onValueChange={setJsonText}
            error={jsonError ?? server.filter}
            hint='e.g. {"tags": {"any": ["vip"]}, "attributes": {"age": {"range": {"gte": 18}}}, "last_seen_within_days": 30}'
          />
        )}
        {mode === "form" && server.filter ? <p className="field-error">{server.filter}</p> : null}
        <section className="live-count" aria-label="Live count" aria-live="polite">
          {preview.error ? <ProblemAlert error={preview.error} /> : null}
          {preview.data && !preview.error ? (
            <>
              <p>
                <strong className="big-number" data-testid="segment-count">
                  {preview.data.count.toLocaleString()}
                </strong>{" "}
                active subscriber{preview.data.count === 1 ? "" : "s"} match now
                {preview.isFetching ? <span className="muted small"> (updating…)</span> : null}
              </p>
              {preview.data.sample.length ? (
                <p className="small muted">
                  For example:{" "}
                  {preview.data.sample.map((s) => s.external_user_id || s.id.slice(0, 8)).join(", ")}
                </p>
              ) : null}
            </>
          ) : preview.isLoading ? (
            <Loading label="Counting…" />
          ) : null}
        </section>
        {writer ? (
          <div className="button-row">
            <Button type="submit" variant="primary" busy={save.isPending} disabled={!name.trim() || !filter}>
              {segment ? "Save segment" : "Create segment"}
            </Button>
            {segment ? (
              <Button variant="danger" onClick={() => remove.ask(true)}>
                Delete segment
              </Button>
            ) : null}
          </div>
        ) : null}
      </form>
      {saved ? <Notice>Segment saved.</Notice> : null}
      <ConfirmDialog {...remove.dialog} title="Delete this segment?" confirmLabel="Delete segment">
        <p>Campaigns that target “{segment?.name}” will need another audience.</p>
      </ConfirmDialog>
    </Card>
  );
}
