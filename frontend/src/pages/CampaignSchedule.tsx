/** When a campaign sends: send now, one time, or an RRULE (builder + raw text) with a drawn live preview. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, call, type Workspace } from "../api/client";
import { TimezoneField } from "../components/TimezoneField";
import {
  Button,
  Card,
  CheckboxGroup,
  ConfirmDialog,
  DefinitionList,
  Field,
  Loading,
  Notice,
  ProblemAlert,
  SelectField,
  StatusBadge,
  TextAreaField,
  useDebounced,
} from "../components/ui";
import { canWriteCampaigns } from "../lib/abilities";
import { campaignVerbs, SCHEDULE_TYPES, type ScheduleType } from "../lib/campaigns";
import {
  buildRule,
  DEFAULT_SPEC,
  describeRule,
  type EndKind,
  type Frequency,
  FREQUENCIES,
  type MonthlyMode,
  parseRule,
  type RuleSpec,
  toLocalInput,
  wallClock,
  WEEKDAY_LABELS,
  WEEKDAYS,
  type Weekday,
} from "../lib/rrule";
import { formatWallClock } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import type { Campaign } from "./dataHooks";
import { ScheduleTimeline } from "./ScheduleTimeline";

const FREQUENCY_LABELS: Record<Frequency, string> = { HOURLY: "Hourly", DAILY: "Daily", WEEKLY: "Weekly", MONTHLY: "Monthly", YEARLY: "Yearly" };
const PREVIEW_COUNTS = [5, 10, 20, 50];
const ONCE_RULE = "FREQ=DAILY;COUNT=1";

/** Tomorrow at 09:00 on this browser's clock, as a datetime-local value: a sensible first suggestion. */
function tomorrowAtNine(): string {
  const d = new Date(Date.now() + 86_400_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T09:00`;
}

export function CampaignSchedule({ workspace, campaign, onChanged }: { workspace: Workspace; campaign: Campaign; onChanged: (c: Campaign) => void }) {
  const queryClient = useQueryClient();
  const headers = wsHeader(workspace.id);
  const writer = canWriteCampaigns(workspace.role);
  const isDraft = campaign.status === "draft";
  const [type, setType] = useState<ScheduleType>(campaign.schedule_type as ScheduleType);
  const effectiveType = isDraft ? type : (campaign.schedule_type as ScheduleType);
  const verbs = campaignVerbs(campaign.status, effectiveType);
  const editable = writer && verbs.schedule;

  const [timezone, setTimezone] = useState(campaign.timezone);
  const [at, setAt] = useState(toLocalInput(campaign.scheduled_local || campaign.scheduled_at) || tomorrowAtNine());
  const initialRule = campaign.recurrence_rule || buildRule(DEFAULT_SPEC);
  const [ruleText, setRuleText] = useState(initialRule);
  const [spec, setSpec] = useState<RuleSpec>(parseRule(initialRule) ?? DEFAULT_SPEC);
  const custom = parseRule(ruleText) === null;
  const [count, setCount] = useState(10);
  const [confirm, setConfirm] = useState<"send" | "cancel" | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const updateSpec = (changes: Partial<RuleSpec>) => {
    const next = { ...spec, ...changes };
    setSpec(next);
    setRuleText(buildRule(next));
  };
  const updateText = (text: string) => {
    setRuleText(text);
    const parsed = parseRule(text);
    if (parsed) setSpec(parsed);
  };

  // The live preview: the API computes occurrences (RFC 5545 + the zone's DST rules) and the plan's verdict.
  const previewBody =
    effectiveType === "send_now" || !at
      ? null
      : effectiveType === "recurring"
        ? { rule: ruleText.trim(), dtstart: wallClock(at), timezone: timezone.trim(), count }
        : { rule: ONCE_RULE, dtstart: wallClock(at), timezone: timezone.trim(), count: 1 };
  // Debounced as text: a new object each render would never settle.
  const previewKey = JSON.stringify(previewBody);
  const debouncedKey = useDebounced(previewKey, 400);
  const debouncedBody = JSON.parse(debouncedKey) as typeof previewBody;
  const preview = useQuery({
    queryKey: wsKeys.schedulePreview(workspace.id, debouncedBody ?? {}),
    enabled: debouncedBody !== null && Boolean(debouncedBody.rule) && Boolean(debouncedBody.timezone),
    placeholderData: (previous) => previous,
    retry: false,
    staleTime: 60_000,
    queryFn: () => call(api.POST("/api/v1/schedule/preview/", { body: debouncedBody ?? { rule: "" }, headers })),
  });
  const stale = previewKey !== debouncedKey || preview.isFetching;
  const onceInPast =
    effectiveType === "scheduled" && preview.data?.occurrences[0] !== undefined && Date.parse(preview.data.occurrences[0]) < Date.now();

  const afterChange = (updated: Campaign, message: string) => {
    onChanged(updated);
    setDone(message);
    setConfirm(null);
    void queryClient.invalidateQueries({ queryKey: wsKeys.notifications(workspace.id) });
  };

  const ensureType = async () => {
    if (isDraft && campaign.schedule_type !== type) {
      await call(api.PATCH("/api/v1/campaigns/{id}/", { params: { path: { id: campaign.id } }, body: { schedule_type: type }, headers }));
    }
  };
  const schedule = useMutation({
    mutationFn: async () => {
      await ensureType();
      return call(
        api.POST("/api/v1/campaigns/{id}/schedule/", {
          params: { path: { id: campaign.id } },
          body: {
            scheduled_at: wallClock(at),
            timezone: timezone.trim(),
            ...(effectiveType === "recurring" ? { recurrence_rule: ruleText.trim() } : {}),
          },
          headers,
        }),
      );
    },
    onMutate: () => setDone(null),
    onSuccess: (updated) => afterChange(updated, updated.next_run_at ? `Scheduled. Next run: ${formatWallClock(updated.next_run_at)} (${updated.timezone}).` : "Scheduled."),
  });
  const sendNow = useMutation({
    mutationFn: async () => {
      await ensureType();
      return call(api.POST("/api/v1/campaigns/{id}/schedule/", { params: { path: { id: campaign.id } }, body: { timezone: timezone.trim() }, headers }));
    },
    onMutate: () => setDone(null),
    onSuccess: (updated) => afterChange(updated, "Sending now."),
  });
  const verb = useMutation({
    mutationFn: (action: "pause" | "resume" | "cancel") => {
      const options = { params: { path: { id: campaign.id } }, headers };
      if (action === "pause") return call(api.POST("/api/v1/campaigns/{id}/pause/", options));
      if (action === "resume") return call(api.POST("/api/v1/campaigns/{id}/resume/", options));
      return call(api.POST("/api/v1/campaigns/{id}/cancel/", options));
    },
    onMutate: () => setDone(null),
    onSuccess: (updated, action) => afterChange(updated, { pause: "Paused.", resume: "Resumed.", cancel: "Cancelled." }[action]),
  });
  const error = schedule.error ?? sendNow.error ?? verb.error;

  return (
    <Card title="Schedule">
      <DefinitionList
        items={[
          { term: "Status", value: <StatusBadge status={campaign.status} /> },
          { term: "Next run", value: campaign.next_run_at ? `${formatWallClock(campaign.next_run_at)} (${campaign.timezone})` : "—" },
          { term: "Last run", value: campaign.last_run_at ? formatWallClock(campaign.last_run_at) : "—" },
          ...(campaign.recurrence_rule ? [{ term: "Rule", value: <code>{campaign.recurrence_rule}</code> }] : []),
        ]}
      />
      <fieldset className="plain" disabled={!editable}>
        <div className="radio-row" role="radiogroup" aria-label="When to send">
          {SCHEDULE_TYPES.map((option) => (
            <label key={option.value} className="checkbox">
              <input
                type="radio"
                name="schedule_kind"
                value={option.value}
                checked={effectiveType === option.value}
                disabled={!isDraft}
                onChange={() => setType(option.value)}
              />
              <span>{option.label}</span>
            </label>
          ))}
        </div>
        {effectiveType !== "send_now" ? (
          <div className="grid-fields">
            <Field
              label={effectiveType === "recurring" ? "First send (local time)" : "Send at (local time)"}
              name="scheduled_at"
              type="datetime-local"
              value={at}
              onValueChange={setAt}
              hint="Wall-clock time in the timezone below."
            />
            <TimezoneField value={timezone} onValueChange={setTimezone} hint="IANA name; DST is handled by the zone's rules." />
          </div>
        ) : (
          <p className="muted">Sends to the whole audience as soon as you press “Send now”.</p>
        )}
        {effectiveType === "recurring" ? <RuleBuilder spec={spec} custom={custom} onSpec={updateSpec} ruleText={ruleText} onText={updateText} /> : null}
      </fieldset>

      {effectiveType !== "send_now" ? (
        <section className="preview-panel" aria-label="Schedule preview" aria-busy={stale || undefined}>
          <div className="preview-head">
            <h3>Preview</h3>
            {effectiveType === "recurring" ? (
              <SelectField
                label="Show next"
                name="preview_count"
                value={String(count)}
                onValueChange={(value) => setCount(Number(value))}
                options={PREVIEW_COUNTS.map((n) => ({ value: String(n), label: `${n} occurrences` }))}
              />
            ) : null}
          </div>
          {preview.isLoading ? <Loading label="Computing occurrences…" /> : null}
          {preview.error && !stale ? <ProblemAlert error={preview.error} /> : null}
          {preview.data && !preview.error ? (
            <>
              <p className={preview.data.schedulable && !onceInPast ? "verdict verdict-ok" : "verdict verdict-bad"} role="status">
                {onceInPast
                  ? "This time is in the past: pick a later one."
                  : preview.data.schedulable
                    ? "✓ Schedulable on your plan."
                    : `✗ Not schedulable: ${preview.data.reason ?? "the plan does not allow this rule."}`}
              </p>
              <ScheduleTimeline occurrences={preview.data.occurrences} timezone={preview.data.timezone} />
              {effectiveType === "recurring" ? (
                <p className="small muted">
                  Occurrences from the first send on (past ones included); <code>{preview.data.rule}</code>
                </p>
              ) : null}
            </>
          ) : null}
        </section>
      ) : null}

      <ProblemAlert error={error} />
      {done ? (
        <Notice>
          {done} <Link to={`/notifications?campaign=${campaign.id}`}>See runs</Link>
        </Notice>
      ) : null}
      {writer ? (
        <div className="button-row">
          {verbs.schedule ? (
            <Button variant="primary" busy={schedule.isPending} onClick={() => schedule.mutate()} disabled={!at || (effectiveType === "recurring" && !ruleText.trim())}>
              {campaign.status === "scheduled" ? "Reschedule" : "Schedule"}
            </Button>
          ) : null}
          {verbs.sendNow ? (
            <Button variant="primary" busy={sendNow.isPending} onClick={() => setConfirm("send")}>
              Send now
            </Button>
          ) : null}
          {verbs.pause ? (
            <Button busy={verb.isPending && verb.variables === "pause"} onClick={() => verb.mutate("pause")}>
              Pause
            </Button>
          ) : null}
          {verbs.resume ? (
            <Button busy={verb.isPending && verb.variables === "resume"} onClick={() => verb.mutate("resume")}>
              Resume
            </Button>
          ) : null}
          {verbs.cancel && !isDraft ? (
            <Button variant="danger" onClick={() => setConfirm("cancel")}>
              Cancel campaign
            </Button>
          ) : null}
        </div>
      ) : null}
      <ConfirmDialog
        open={confirm === "send"}
        title="Send this campaign now?"
        confirmLabel="Send now"
        busy={sendNow.isPending}
        error={sendNow.error}
        onCancel={() => {
          setConfirm(null);
          sendNow.reset();
        }}
        onConfirm={() => sendNow.mutate()}
      >
        <p>Every subscriber in the audience gets the active contents right away. This cannot be undone.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === "cancel"}
        title="Cancel this campaign?"
        confirmLabel="Cancel campaign"
        busy={verb.isPending}
        error={verb.error}
        onCancel={() => {
          setConfirm(null);
          verb.reset();
        }}
        onConfirm={() => verb.mutate("cancel")}
      >
        <p>Pending runs are removed and the campaign stops for good (a run already sending finishes).</p>
      </ConfirmDialog>
    </Card>
  );
}

function RuleBuilder({
  spec,
  custom,
  onSpec,
  ruleText,
  onText,
}: {
  spec: RuleSpec;
  custom: boolean;
  onSpec: (changes: Partial<RuleSpec>) => void;
  ruleText: string;
  onText: (text: string) => void;
}) {
  return (
    <fieldset className="rule-builder">
      <legend>Repeat</legend>
      {custom ? (
        <p className="hint">This rule uses parts the builder does not cover; edit it as text below (every RFC 5545 part works).</p>
      ) : (
        <p className="hint" aria-live="polite">
          {describeRule(spec)}, at the first send's time of day.
        </p>
      )}
      <fieldset className="plain" disabled={custom}>
        <div className="grid-fields">
          <SelectField
            label="Frequency"
            name="freq"
            value={spec.freq}
            onValueChange={(value) => onSpec({ freq: value as Frequency })}
            options={FREQUENCIES.map((f) => ({ value: f, label: FREQUENCY_LABELS[f] }))}
          />
          <Field
            label="Interval"
            name="interval"
            type="number"
            min={1}
            max={1000}
            value={String(spec.interval)}
            onValueChange={(value) => onSpec({ interval: Number(value) || 1 })}
            hint={`Every N ${spec.freq === "DAILY" ? "days" : spec.freq.toLowerCase().replace("ly", "s")}`}
          />
        </div>
        {spec.freq === "WEEKLY" ? (
          <CheckboxGroup
            legend="On"
            options={WEEKDAYS}
            selected={spec.weekdays}
            onChange={(weekdays) => onSpec({ weekdays })}
            optionLabel={(day) => WEEKDAY_LABELS[day]}
          />
        ) : null}
        {spec.freq === "MONTHLY" ? (
          <div className="grid-fields">
            <SelectField
              label="On"
              name="monthly_mode"
              value={spec.monthlyMode}
              onValueChange={(value) => onSpec({ monthlyMode: value as MonthlyMode })}
              options={[
                { value: "same_day", label: "The first send's day of the month" },
                { value: "month_day", label: "A day of the month" },
                { value: "ordinal_weekday", label: "A weekday of the month" },
              ]}
            />
            {spec.monthlyMode === "month_day" ? (
              <SelectField
                label="Day"
                name="month_day"
                value={String(spec.monthDay)}
                onValueChange={(value) => onSpec({ monthDay: Number(value) })}
                options={[...Array.from({ length: 31 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) })), { value: "-1", label: "Last day" }]}
              />
            ) : null}
            {spec.monthlyMode === "ordinal_weekday" ? (
              <>
                <SelectField
                  label="Which"
                  name="ordinal"
                  value={String(spec.ordinal)}
                  onValueChange={(value) => onSpec({ ordinal: Number(value) })}
                  options={[
                    { value: "1", label: "First" },
                    { value: "2", label: "Second" },
                    { value: "3", label: "Third" },
                    { value: "4", label: "Fourth" },
                    { value: "-1", label: "Last" },
                  ]}
                />
                <SelectField
                  label="Weekday"
                  name="ordinal_weekday"
                  value={spec.ordinalWeekday}
                  onValueChange={(value) => onSpec({ ordinalWeekday: value as Weekday })}
                  options={WEEKDAYS.map((d) => ({ value: d, label: WEEKDAY_LABELS[d] }))}
                />
              </>
            ) : null}
          </div>
        ) : null}
        <div className="grid-fields">
          <SelectField
            label="Ends"
            name="end"
            value={spec.end}
            onValueChange={(value) => onSpec({ end: value as EndKind })}
            options={[
              { value: "never", label: "Never" },
              { value: "count", label: "After a number of sends" },
              { value: "until", label: "On a date" },
            ]}
          />
          {spec.end === "count" ? (
            <Field label="Number of sends" name="count" type="number" min={1} value={String(spec.count)} onValueChange={(value) => onSpec({ count: Number(value) || 1 })} />
          ) : null}
          {spec.end === "until" ? (
            <Field label="Last day" name="until" type="date" value={spec.until} onValueChange={(value) => onSpec({ until: value })} hint="Includes that whole local day." />
          ) : null}
        </div>
      </fieldset>
      <TextAreaField
        label="Rule (RRULE)"
        name="recurrence_rule"
        rows={2}
        className="field-mono"
        spellCheck={false}
        value={ruleText}
        onValueChange={onText}
        hint="The builder writes this; you can also type any RFC 5545 rule, e.g. FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1."
      />
    </fieldset>
  );
}
