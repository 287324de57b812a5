/**
 * "Write with AI" in a campaign's contents: ask the workspace's model for copy variants, which the API
 * saves as inactive drafts (generated_by=ai); the marketer activates the ones to send.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, call, type Schemas, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Field, Loading, ProblemAlert, ProblemHints, SelectField, TextAreaField } from "../components/ui";
import { fieldBinder, useCheckedSubmit } from "../components/useForm";
import { canConfigureAi } from "../lib/abilities";
import { AI_LIMITS, AI_TONES, checkTone, CUSTOM_TONE, describeAiError, describeQuota, wholeNumberError } from "../lib/ai";
import { charCount } from "../lib/campaigns";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { type AiSettings, type Campaign, type Content, useAiSettings } from "./dataHooks";

type Generated = Schemas["GenerateContentResponse"];
type GenerateBody = Schemas["GenerateContentRequestRequest"];

/** Fields of the request form: their API errors show next to them, not in the banner. */
const SHOWN_FIELDS = new Set(["prompt", "tone", "language", "variants", "max_title", "max_body"]);

function AiSettingsLink() {
  return (
    <>
      {" "}
      <Link to="/settings#ai">Open Settings → AI</Link>
    </>
  );
}

/** An AI refusal in plain words, with a way to the settings when the provider is the problem. */
export function AiErrorAlert({ error, workspace }: { error: unknown; workspace: Workspace }) {
  const view = describeAiError(error);
  if (!view) return <ProblemAlert error={error} />;
  return (
    <div className="alert alert-error" role="alert">
      <strong>{view.title} </strong>
      {view.message}
      {view.settingsLink && canConfigureAi(workspace.role) ? <AiSettingsLink /> : null}
      <ProblemHints hints={view.hints} />
    </div>
  );
}

/** The request form, keyed by the API's field names (custom_tone is sent as tone). */
interface AiForm {
  prompt: string;
  tone: string;
  custom_tone: string;
  language: string;
  variants: string;
  include_emoji: boolean;
  max_title: string;
  max_body: string;
}

export function AiPanel({
  workspace,
  campaign,
  contents,
  onChanged,
  onClose,
}: {
  workspace: Workspace;
  campaign: Campaign;
  /** The campaign's contents as the table shows them (to know which drafts are active now). */
  contents: readonly Content[];
  onChanged: () => Promise<void>;
  onClose: () => void;
}) {
  const queryClient = useQueryClient();
  const headers = wsHeader(workspace.id);
  const settings = useAiSettings(workspace.id);
  const [form, setForm] = useState<AiForm>({
    prompt: "",
    tone: "cheerful",
    custom_tone: "",
    language: campaign.default_language || "en",
    variants: "3",
    include_emoji: false,
    max_title: String(AI_LIMITS.titleMax),
    max_body: String(AI_LIMITS.bodyMax),
  });
  const [result, setResult] = useState<{ generated: Generated; maxTitle: number; maxBody: number } | null>(null);
  const set = <K extends keyof AiForm>(key: K) => (value: AiForm[K]) => setForm((prev) => ({ ...prev, [key]: value }));

  const custom = form.tone === CUSTOM_TONE;
  const tone = custom ? checkTone(form.custom_tone) : { tone: form.tone, error: null };
  const local = {
    prompt: !form.prompt.trim()
      ? "Say what the notifications are about."
      : [...form.prompt].length > AI_LIMITS.prompt
        ? `Use at most ${AI_LIMITS.prompt} characters.`
        : null,
    tone: tone.error,
    language: form.language.trim() ? null : "Give a language tag, e.g. en or hi-IN.",
    max_title: wholeNumberError(form.max_title, AI_LIMITS.titleMin, AI_LIMITS.titleMax),
    max_body: wholeNumberError(form.max_body, AI_LIMITS.bodyMin, AI_LIMITS.bodyMax),
  };
  const { errors, handleSubmit } = useCheckedSubmit(local);

  const generate = useMutation({
    mutationFn: (body: GenerateBody) =>
      call(api.POST("/api/v1/campaigns/{id}/generate-content/", { params: { path: { id: campaign.id } }, body, headers })),
    onMutate: () => setResult(null),
    onSuccess: async (generated, body) => {
      setResult({ generated, maxTitle: body.max_title ?? AI_LIMITS.titleMax, maxBody: body.max_body ?? AI_LIMITS.bodyMax });
      queryClient.setQueryData(wsKeys.aiSettings(workspace.id), (previous: AiSettings | undefined) =>
        previous ? { ...previous, quota: generated.quota } : previous,
      );
      await onChanged();
    },
    // A refused call may still have changed the count (the quota is reserved before the provider answers).
    onError: () => void queryClient.invalidateQueries({ queryKey: wsKeys.aiSettings(workspace.id) }),
  });
  const activate = useMutation({
    mutationFn: (content: Content) =>
      call(
        api.PATCH("/api/v1/campaigns/{campaign_pk}/contents/{id}/", {
          params: { path: { campaign_pk: campaign.id, id: content.id } },
          body: { is_active: true },
          headers,
        }),
      ),
    onSuccess: onChanged,
  });
  const server = fieldMessages(generate.error);
  const field = fieldBinder(form, set, errors, server);

  const submit = handleSubmit(() =>
    generate.mutate({
      prompt: form.prompt.trim(),
      tone: tone.tone,
      language: form.language.trim(),
      variants: Number(form.variants),
      include_emoji: form.include_emoji,
      max_title: Number(form.max_title),
      max_body: Number(form.max_body),
    }),
  );

  const quota = result?.generated.quota ?? settings.data?.quota;
  const notConfigured = settings.data && !settings.data.configured;
  const fieldProblem = Object.keys(server).some((field) => SHOWN_FIELDS.has(field));

  return (
    <section className="subform ai-panel" aria-label="Write with AI">
      <h3>Write with AI</h3>
      <p className="muted small">
        The model writes variants in your tone and language from the campaign's name and description, the workspace's brand voice and your
        templates. They are saved as inactive drafts: activate the ones to send.
      </p>
      {quota ? (
        <p className="small" data-testid="ai-quota">
          {describeQuota(quota)}
        </p>
      ) : null}
      {notConfigured ? (
        <div className="alert alert-error" role="status">
          No AI provider is configured — an owner/admin can set one in Settings → AI.
          {canConfigureAi(workspace.role) ? <AiSettingsLink /> : null}
        </div>
      ) : null}
      <form noValidate onSubmit={submit} aria-label="AI request">
        <TextAreaField
          label="What should the notifications say?"
          rows={3}
          limit={AI_LIMITS.prompt}
          placeholder="e.g. Announce 20% off on sweets this weekend"
          {...field("prompt")}
        />
        <div className="grid-fields">
          <SelectField
            label="Tone"
            name="tone"
            value={form.tone}
            onValueChange={set("tone")}
            options={[...AI_TONES.map((t) => ({ value: t, label: t[0]?.toUpperCase() + t.slice(1) })), { value: CUSTOM_TONE, label: "Other…" }]}
            error={custom ? undefined : server.tone}
          />
          {custom ? (
            <Field
              label="Your tone"
              maxLength={AI_LIMITS.tone + 10}
              hint="One or a few words, e.g. witty."
              {...field("custom_tone")}
              error={errors.tone ?? server.tone}
            />
          ) : null}
          <Field label="Language" hint="BCP 47, e.g. en-IN, hi-IN, es-MX." {...field("language")} />
          <SelectField label="Variants" options={[1, 2, 3, 4, 5].map((n) => ({ value: String(n), label: String(n) }))} {...field("variants")} />
          <Field label="Title at most" type="number" min={AI_LIMITS.titleMin} max={AI_LIMITS.titleMax} hint="characters" {...field("max_title")} />
          <Field label="Body at most" type="number" min={AI_LIMITS.bodyMin} max={AI_LIMITS.bodyMax} hint="characters" {...field("max_body")} />
        </div>
        <label className="checkbox">
          <input type="checkbox" checked={form.include_emoji} onChange={(event) => set("include_emoji")(event.target.checked)} />
          <span>Include emoji</span>
        </label>
        <div className="button-row">
          <Button type="submit" variant="primary" busy={generate.isPending}>
            Generate
          </Button>
          <Button onClick={onClose}>Close</Button>
        </div>
      </form>
      {generate.isPending ? <Loading label={`Writing ${form.variants} variant${form.variants === "1" ? "" : "s"}… this can take a few seconds.`} /> : null}
      {generate.isError && !fieldProblem ? <AiErrorAlert error={generate.error} workspace={workspace} /> : null}
      <ProblemAlert error={activate.error} />
      {result ? (
        <GeneratedVariants result={result.generated} contents={contents} maxTitle={result.maxTitle} maxBody={result.maxBody} activate={activate} />
      ) : null}
    </section>
  );
}

function GeneratedVariants({
  result,
  contents,
  maxTitle,
  maxBody,
  activate,
}: {
  result: Generated;
  contents: readonly Content[];
  maxTitle: number;
  maxBody: number;
  activate: { mutate: (content: Content) => void; isPending: boolean; variables: Content | undefined };
}) {
  const { generation } = result;
  return (
    <section className="ai-results" aria-label="Generated variants">
      <h4>Generated variants</h4>
      <p className="muted small" data-testid="ai-usage">
        Model <code>{generation.model}</code> ({generation.provider === "workspace" ? "this workspace's provider" : "the platform's provider"}) ·{" "}
        {generation.prompt_tokens.toLocaleString()} prompt + {generation.completion_tokens.toLocaleString()} completion ={" "}
        {generation.total_tokens.toLocaleString()} tokens
        {generation.attempts > 1 ? " · needed one repair round" : ""}
      </p>
      <ol className="ai-variants">
        {result.variants.map((variant) => {
          const current = contents.find((c) => c.id === variant.id) ?? variant;
          const title = charCount(current.title, maxTitle);
          const body = charCount(current.body, maxBody);
          const label = `${current.language} variant ${current.variant}`;
          return (
            <li key={variant.id} aria-label={`Variant ${current.variant}`}>
              <div className="ai-variant-copy">
                <div>
                  <span className="badge">{current.variant}</span> <span className="badge">{current.language}</span>
                  {current.tone ? <span className="badge">{current.tone}</span> : null}
                </div>
                <strong className="ai-variant-title">{current.title}</strong>
                <p className="ai-variant-body">{current.body}</p>
                <p className="counter ai-counts">
                  <span className={title.over ? "counter-over" : ""}>Title {title.label}</span> ·{" "}
                  <span className={body.over ? "counter-over" : ""}>Body {body.label}</span>
                </p>
              </div>
              <div className="ai-variant-action">
                {current.is_active ? (
                  <span className="badge status status-active" role="status">
                    Active
                  </span>
                ) : (
                  <Button
                    variant="primary"
                    onClick={() => activate.mutate(current)}
                    busy={activate.isPending && activate.variables?.id === current.id}
                    aria-label={`Activate ${label}`}
                  >
                    Activate
                  </Button>
                )}
              </div>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
