/** /campaigns/new and /campaigns/:id: details, audience and options; contents; schedule. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, call, type Workspace } from "../api/client";
import { describeError, fieldMessages } from "../api/errors";
import { TimezoneField } from "../components/TimezoneField";
import {
  Button,
  Card,
  ConfirmDialog,
  ErrorAlert,
  Field,
  Loading,
  Notice,
  PageHeader,
  SelectField,
  StatusBadge,
  TextAreaField,
  useDebounced,
} from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { canWriteCampaigns } from "../lib/abilities";
import {
  type AudienceForm,
  appKindFor,
  audienceToForm,
  campaignVerbs,
  CHANNELS,
  CONTENT_LIMITS,
  formToAudience,
  formToOptions,
  type OptionsForm,
  optionsToForm,
  SCHEDULE_TYPES,
  throttleError,
  ttlError,
  urlError,
} from "../lib/campaigns";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";
import { CampaignContents } from "./CampaignContents";
import { CampaignSchedule } from "./CampaignSchedule";
import { type App, appLabel, type Campaign, type Segment, useApps, useSegments } from "./dataHooks";
import { SegmentFilterFields } from "./SegmentFilterFields";

export function CampaignEditorPage() {
  const { id } = useParams();
  const { workspace } = useCurrentWorkspace();
  if (!workspace) return null;
  if (!id || id === "new") return <NewCampaign workspace={workspace} />;
  return <ExistingCampaign key={`${workspace.id}-${id}`} workspace={workspace} id={id} />;
}

function NewCampaign({ workspace }: { workspace: Workspace }) {
  const navigate = useNavigate();
  if (!canWriteCampaigns(workspace.role)) {
    return (
      <>
        <PageHeader title="New campaign" />
        <ErrorAlert error={new Error("Viewers read campaigns; ask an admin for the member role to create one.")} />
      </>
    );
  }
  return (
    <>
      <PageHeader title="New campaign" description={<Link to="/campaigns">← All campaigns</Link>} />
      <DetailsCard workspace={workspace} campaign={null} onSaved={(campaign) => navigate(`/campaigns/${campaign.id}`, { replace: true })} />
    </>
  );
}

function ExistingCampaign({ workspace, id }: { workspace: Workspace; id: string }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const campaign = useQuery({
    queryKey: wsKeys.campaign(workspace.id, id),
    queryFn: () => call(api.GET("/api/v1/campaigns/{id}/", { params: { path: { id } }, headers: wsHeader(workspace.id) })),
  });
  const remove = useConfirmedMutation({
    mutationFn: () => call(api.DELETE("/api/v1/campaigns/{id}/", { params: { path: { id } }, headers: wsHeader(workspace.id) })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: wsKeys.campaigns(workspace.id) });
      navigate("/campaigns", { replace: true });
    },
  });
  if (campaign.isLoading) return <Loading />;
  if (!campaign.data) return <ErrorAlert error={campaign.error ?? new Error("Campaign not found.")} />;
  const data = campaign.data;
  const writer = canWriteCampaigns(workspace.role);
  const verbs = campaignVerbs(data.status, data.schedule_type);
  const onSaved = (updated: Campaign) => {
    queryClient.setQueryData(wsKeys.campaign(workspace.id, id), updated);
    void queryClient.invalidateQueries({ queryKey: wsKeys.campaigns(workspace.id), refetchType: "none" });
  };

  return (
    <>
      <PageHeader
        title={data.name}
        description={
          <>
            <Link to="/campaigns">← All campaigns</Link> · <StatusBadge status={data.status} />{" "}
            {data.channel_type === "web_push" ? "Web push" : "App push"} · {SCHEDULE_TYPES.find((t) => t.value === data.schedule_type)?.label}
          </>
        }
        actions={
          <>
            <Link className="btn btn-secondary" to={`/campaigns/${data.id}/analytics`}>
              Analytics
            </Link>
            <Link className="btn btn-secondary" to={`/notifications?campaign=${data.id}`}>
              Runs
            </Link>
            {writer && verbs.remove ? (
              <Button variant="danger" onClick={() => remove.ask(true)}>
                Delete draft
              </Button>
            ) : null}
          </>
        }
      />
      {!writer ? <p className="muted">You have read-only access (viewer).</p> : null}
      <DetailsCard key={data.id} workspace={workspace} campaign={data} onSaved={onSaved} />
      <CampaignContents workspace={workspace} campaign={data} />
      <CampaignSchedule workspace={workspace} campaign={data} onChanged={onSaved} />
      <ConfirmDialog {...remove.dialog} title="Delete this draft?" confirmLabel="Delete draft">
        <p>
          <strong>{data.name}</strong> and its contents are removed. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}

interface DetailsState {
  name: string;
  description: string;
  channel: string;
  appId: string;
  timezone: string;
  language: string;
  scheduleType: string;
  audience: AudienceForm;
  options: OptionsForm;
}

function initialDetails(campaign: Campaign | null, workspace: Workspace, apps: App[]): DetailsState {
  if (campaign) {
    return {
      name: campaign.name,
      description: campaign.description,
      channel: campaign.channel_type,
      appId: campaign.app_id,
      timezone: campaign.timezone,
      language: campaign.default_language,
      scheduleType: campaign.schedule_type,
      audience: audienceToForm(campaign.audience),
      options: optionsToForm(campaign.options),
    };
  }
  const first = apps[0];
  const channel = first?.kind === "fcm" ? "app_push" : "web_push";
  return {
    name: "",
    description: "",
    channel,
    appId: first?.id ?? "",
    timezone: workspace.timezone,
    language: "en",
    scheduleType: "scheduled",
    audience: audienceToForm({}),
    options: optionsToForm({}),
  };
}

function DetailsCard(props: { workspace: Workspace; campaign: Campaign | null; onSaved: (campaign: Campaign) => void }) {
  const apps = useApps(props.workspace.id);
  const segments = useSegments(props.workspace.id);
  if (apps.isLoading || segments.isLoading) return <Loading />;
  return <DetailsForm {...props} apps={apps.data ?? []} segments={segments.data ?? []} />;
}

function DetailsForm({
  workspace,
  campaign,
  onSaved,
  apps,
  segments,
}: {
  workspace: Workspace;
  campaign: Campaign | null;
  onSaved: (campaign: Campaign) => void;
  apps: App[];
  segments: Segment[];
}) {
  const [values, setValues] = useState(() => initialDetails(campaign, workspace, apps));
  const [submitted, setSubmitted] = useState(false);
  const [saved, setSaved] = useState(false);
  const writer = canWriteCampaigns(workspace.role);
  const verbs = campaignVerbs(campaign?.status ?? "draft", campaign?.schedule_type ?? values.scheduleType);
  const setupEditable = writer && verbs.editSetup;
  const liveEditable = writer && (campaign === null || !["completed", "cancelled"].includes(campaign.status));
  const set = <K extends keyof DetailsState>(key: K) => (value: DetailsState[K]) => {
    setSaved(false);
    setValues((prev) => ({ ...prev, [key]: value }));
  };

  const appsOfChannel = apps.filter((app) => app.kind === appKindFor(values.channel));
  const audience = formToAudience(values.audience);
  const errors: Record<string, string | undefined> = submitted
    ? {
        name: !values.name.trim() ? "Give the campaign a name." : values.name.length > CONTENT_LIMITS.name ? `Use at most ${CONTENT_LIMITS.name} characters.` : undefined,
        description: values.description.length > CONTENT_LIMITS.description ? `Use at most ${CONTENT_LIMITS.description} characters.` : undefined,
        app_id: !values.appId ? "Choose the app that sends it." : undefined,
        ttl: ttlError(values.options.ttl) ?? undefined,
        throttle: throttleError(values.options.throttle) ?? undefined,
        click_url: urlError(values.options.clickUrl) ?? undefined,
        audience: audience.ok ? undefined : audience.error,
      }
    : {};

  const save = useMutation({
    mutationFn: async (): Promise<Campaign> => {
      const common = {
        name: values.name.trim(),
        description: values.description,
      };
      const live = {
        default_language: values.language.trim() || "en",
        audience: audience.ok ? audience.audience : undefined,
        options: formToOptions(values.options, (campaign?.options as Record<string, unknown>) ?? {}),
      };
      const setup = {
        channel_type: values.channel as "app_push" | "web_push",
        app_id: values.appId,
      };
      if (!campaign) {
        const body = {
          ...common,
          ...live,
          ...setup,
          timezone: values.timezone.trim(),
          schedule_type: values.scheduleType as "send_now" | "scheduled" | "recurring",
        };
        return call(api.POST("/api/v1/campaigns/", { body, headers: wsHeader(workspace.id) }));
      }
      const body = { ...common, ...(liveEditable ? live : {}), ...(setupEditable ? setup : {}) };
      return call(api.PATCH("/api/v1/campaigns/{id}/", { params: { path: { id: campaign.id } }, body, headers: wsHeader(workspace.id) }));
    },
    onSuccess: (updated) => {
      setSaved(true);
      onSaved(updated);
    },
  });
  const server = fieldMessages(save.error);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    const name = !values.name.trim() || values.name.length > CONTENT_LIMITS.name;
    const invalidOptions = ttlError(values.options.ttl) || throttleError(values.options.throttle) || urlError(values.options.clickUrl);
    if (name || !values.appId || invalidOptions || !audience.ok) return;
    save.mutate();
  };

  const noApps = apps.length === 0;
  return (
    <Card title={campaign ? "Campaign details" : "Details"}>
      {noApps ? (
        <div className="alert alert-error" role="alert">
          Connect an app first: a campaign sends through a Firebase or Web Push app. <Link to="/apps">Go to Apps</Link>
        </div>
      ) : null}
      <form noValidate onSubmit={submit}>
        <ErrorAlert error={Object.keys(server).length ? null : save.error} />
        <fieldset className="plain" disabled={!writer}>
          <div className="grid-fields">
            <Field label="Campaign name" name="name" value={values.name} onValueChange={set("name")} error={errors.name ?? server.name} maxLength={CONTENT_LIMITS.name + 50} />
            <SelectField
              label="Channel"
              name="channel_type"
              value={values.channel}
              disabled={!setupEditable}
              onValueChange={(channel) => {
                const first = apps.find((app) => app.kind === appKindFor(channel));
                setValues((prev) => ({ ...prev, channel, appId: first?.id ?? "" }));
              }}
              options={CHANNELS.map((c) => ({ value: c.value, label: c.label }))}
              error={server.channel_type}
            />
            <SelectField
              label="App"
              name="app_id"
              value={values.appId}
              disabled={!setupEditable}
              onValueChange={set("appId")}
              options={[{ value: "", label: appsOfChannel.length ? "Choose an app…" : "No app for this channel" }, ...appsOfChannel.map((a) => ({ value: a.id, label: appLabel(a) }))]}
              error={errors.app_id ?? server.app_id}
            />
            {/* Once created, the timezone and schedule type belong to the Schedule card (they go with /schedule). */}
            {campaign ? null : (
              <>
                <TimezoneField value={values.timezone} onValueChange={set("timezone")} error={server.timezone} hint="Schedules run on this zone's wall clock." />
                <SelectField
                  label="Schedule type"
                  name="schedule_type"
                  value={values.scheduleType}
                  onValueChange={set("scheduleType")}
                  options={SCHEDULE_TYPES}
                  error={server.schedule_type}
                />
              </>
            )}
            <Field label="Default language" name="default_language" value={values.language} onValueChange={set("language")} error={server.default_language} hint="BCP 47, e.g. en or pt-BR." />
          </div>
          <TextAreaField label="Description" name="description" rows={2} value={values.description} onValueChange={set("description")} error={errors.description ?? server.description} />

          <fieldset>
            <legend>Audience</legend>
            <div className="radio-row" role="radiogroup" aria-label="Audience">
              {(
                [
                  ["all", "All active subscribers of the app"],
                  ["segment", "A saved segment"],
                  ["filter", "A filter"],
                ] as const
              ).map(([kind, label]) => (
                <label key={kind} className="checkbox">
                  <input
                    type="radio"
                    name="audience_kind"
                    value={kind}
                    checked={values.audience.kind === kind}
                    disabled={!liveEditable}
                    onChange={() => set("audience")({ ...values.audience, kind })}
                  />
                  <span>{label}</span>
                </label>
              ))}
            </div>
            {values.audience.kind === "segment" ? (
              <SelectField
                label="Segment"
                name="segment_id"
                value={values.audience.segmentId}
                disabled={!liveEditable}
                onValueChange={(segmentId) => set("audience")({ ...values.audience, segmentId })}
                options={[{ value: "", label: segments.length ? "Choose a segment…" : "No segments yet" }, ...segments.map((s) => ({ value: s.id, label: s.name }))]}
              />
            ) : null}
            {values.audience.kind === "filter" ? (
              values.audience.filter ? (
                <SegmentFilterFields
                  apps={apps}
                  showApp={false}
                  disabled={!liveEditable}
                  value={values.audience.filter}
                  onChange={(filter) => set("audience")({ ...values.audience, filter })}
                />
              ) : (
                <p className="muted">
                  This audience uses conditions the form cannot show; it is kept as is.{" "}
                  <code>{JSON.stringify(values.audience.rawFilter)}</code>
                </p>
              )
            ) : null}
            {errors.audience ?? server.audience ? <p className="field-error">{errors.audience ?? server.audience}</p> : null}
            {values.appId ? <AudienceCount workspaceId={workspace.id} appId={values.appId} audience={audience.ok ? audience.audience : null} /> : null}
          </fieldset>

          <fieldset>
            <legend>Options</legend>
            <div className="grid-fields">
              <Field
                label="Time to live (seconds)"
                name="ttl"
                type="number"
                min={0}
                value={values.options.ttl}
                disabled={!liveEditable}
                onValueChange={(ttl) => set("options")({ ...values.options, ttl })}
                error={errors.ttl ?? server.options}
                hint="How long push services keep an undelivered message (max 28 days). Empty: their default."
              />
              <Field
                label="Throttle (messages per minute)"
                name="throttle_per_minute"
                type="number"
                min={1}
                value={values.options.throttle}
                disabled={!liveEditable}
                onValueChange={(throttle) => set("options")({ ...values.options, throttle })}
                error={errors.throttle}
                hint="Spreads each run evenly over time. Empty: as fast as possible."
              />
              <SelectField
                label="Priority"
                name="priority"
                value={values.options.priority}
                disabled={!liveEditable}
                onValueChange={(priority) => set("options")({ ...values.options, priority })}
                options={[
                  { value: "", label: "Default" },
                  { value: "high", label: "High" },
                  { value: "normal", label: "Normal" },
                ]}
              />
              <Field
                label="Click URL"
                name="click_url"
                type="url"
                placeholder="https://"
                value={values.options.clickUrl}
                disabled={!liveEditable}
                onValueChange={(clickUrl) => set("options")({ ...values.options, clickUrl })}
                error={errors.click_url}
              />
              <Field
                label="Collapse key"
                name="collapse_key"
                value={values.options.collapseKey}
                disabled={!liveEditable}
                onValueChange={(collapseKey) => set("options")({ ...values.options, collapseKey })}
                hint="A newer message with the same key replaces an undelivered one."
              />
            </div>
          </fieldset>
          {writer ? (
            <Button type="submit" variant="primary" busy={save.isPending} disabled={noApps}>
              {campaign ? "Save details" : "Create campaign"}
            </Button>
          ) : null}
        </fieldset>
      </form>
      {saved && campaign ? <Notice>Campaign saved.</Notice> : null}
    </Card>
  );
}

/** How many subscribers the audience reaches now (POST /segments/preview, or a segment's count). */
function AudienceCount({ workspaceId, appId, audience }: { workspaceId: string; appId: string; audience: Record<string, unknown> | null }) {
  const segmentId = typeof audience?.segment_id === "string" ? audience.segment_id : null;
  const filter =
    audience && typeof audience.filter === "object" && audience.filter !== null ? { ...(audience.filter as Record<string, unknown>), app_id: appId } : { app_id: appId };
  // Debounced as text, so typing in the filter asks once it settles.
  const key = useDebounced(JSON.stringify({ segmentId, filter }), 400);
  const count = useQuery({
    queryKey: wsKeys.segmentPreview(workspaceId, key),
    enabled: audience !== null,
    staleTime: 10_000,
    placeholderData: (previous) => previous,
    retry: false,
    queryFn: async () => {
      const asked = JSON.parse(key) as { segmentId: string | null; filter: Record<string, unknown> };
      if (asked.segmentId) {
        return call(api.GET("/api/v1/segments/{id}/count/", { params: { path: { id: asked.segmentId } }, headers: wsHeader(workspaceId) }));
      }
      return call(api.POST("/api/v1/segments/preview/", { body: { filter: asked.filter, sample_size: 0 }, headers: wsHeader(workspaceId) }));
    },
  });
  if (!audience) return null;
  if (count.error) return <p className="hint">Could not count the audience: {describeError(count.error)}</p>;
  if (!count.data) return <p className="hint">Counting…</p>;
  return (
    <p className="hint" aria-live="polite">
      Reaches <strong>{count.data.count.toLocaleString()}</strong> active subscriber{count.data.count === 1 ? "" : "s"}
      {segmentId ? " in the segment" : " of this app"} now.
    </p>
  );
}
