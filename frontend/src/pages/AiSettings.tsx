/**
 * Settings → AI: the workspace's brand voice and its own OpenAI-compatible provider (base URL, model,
 * API key). The key is write-only: the API says whether one is set and its last four characters.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useLocation } from "react-router";
import { api, call, type Schemas, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Card, ConfirmDialog, ErrorAlert, Field, Loading, Notice, TextAreaField } from "../components/ui";
import { fieldBinder, useCheckedSubmit } from "../components/useForm";
import { canConfigureAi } from "../lib/abilities";
import { AI_LIMITS, describeQuota, describeStoredKey } from "../lib/ai";
import { urlError } from "../lib/campaigns";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { type AiSettings, useAiSettings } from "./dataHooks";

type AiSettingsUpdate = Schemas["PatchedAiSettingsUpdateRequest"];

export function AiSettingsCard({ workspace }: { workspace: Workspace }) {
  const settings = useAiSettings(workspace.id);
  const [saved, setSaved] = useState<string | null>(null);
  const anchor = useRef<HTMLDivElement>(null);
  const location = useLocation();
  // "Settings → AI" links land here (the router does not scroll to hashes itself).
  useEffect(() => {
    if (location.hash === "#ai" && settings.data) anchor.current?.scrollIntoView({ block: "start" });
  }, [location.hash, settings.data]);
  return (
    <div id="ai" ref={anchor}>
      <Card title="AI">
        {settings.isLoading ? <Loading /> : null}
        <ErrorAlert error={settings.error} />
        {settings.data ? <AiSettingsForm key={settings.data.updated_at ?? "new"} workspace={workspace} settings={settings.data} onSaved={setSaved} /> : null}
        {saved ? <Notice>{saved}</Notice> : null}
      </Card>
    </div>
  );
}

function AiSettingsForm({
  workspace,
  settings,
  onSaved: setSaved,
}: {
  workspace: Workspace;
  settings: AiSettings;
  /** A notice for the card (this form starts over after each save). */
  onSaved: (notice: string | null) => void;
}) {
  const queryClient = useQueryClient();
  const editable = canConfigureAi(workspace.role);
  const [values, setValues] = useState({ brand_voice: settings.brand_voice, base_url: settings.base_url, model: settings.model });
  const [newKey, setNewKey] = useState("");
  const [replacing, setReplacing] = useState(!settings.api_key_set);
  const [removing, setRemoving] = useState(false);
  const set = (key: keyof typeof values) => (value: string) => {
    setSaved(null);
    setValues((prev) => ({ ...prev, [key]: value }));
  };
  const local = {
    brand_voice: [...values.brand_voice].length > AI_LIMITS.brandVoice ? `Use at most ${AI_LIMITS.brandVoice} characters.` : null,
    base_url: values.base_url.length > AI_LIMITS.baseUrl ? `Use at most ${AI_LIMITS.baseUrl} characters.` : urlError(values.base_url),
    model: values.model.length > AI_LIMITS.model ? `Use at most ${AI_LIMITS.model} characters.` : null,
    api_key: newKey.length > AI_LIMITS.apiKey ? `Use at most ${AI_LIMITS.apiKey} characters.` : null,
  };
  const { errors, handleSubmit } = useCheckedSubmit(local);

  const update = useMutation({
    mutationFn: (body: AiSettingsUpdate) => call(api.PATCH("/api/v1/ai/settings/", { body, headers: wsHeader(workspace.id) })),
    onSuccess: (updated, body) => {
      // The form is keyed by updated_at: it starts over with the stored values, so keep the notice outside.
      queryClient.setQueryData(wsKeys.aiSettings(workspace.id), updated);
      setSaved("api_key" in body && body.api_key === null ? "API key removed." : "Saved the AI settings.");
      setRemoving(false);
    },
  });
  const server = fieldMessages(update.error);
  const field = fieldBinder(values, set, errors, server);

  const submit = handleSubmit(() => {
    const body: AiSettingsUpdate = {};
    if (values.brand_voice !== settings.brand_voice) body.brand_voice = values.brand_voice;
    if (values.base_url.trim() !== settings.base_url) body.base_url = values.base_url.trim();
    if (values.model.trim() !== settings.model) body.model = values.model.trim();
    if (newKey.trim()) body.api_key = newKey.trim();
    if (Object.keys(body).length === 0) {
      setSaved("Nothing to save: no change.");
      return;
    }
    update.mutate(body);
  });

  return (
    <>
      <p className={settings.configured ? "verdict verdict-ok" : "verdict verdict-bad"} data-testid="ai-configured">
        {settings.configured
          ? "✓ AI copy is available in campaign editors."
          : "No AI provider is configured: set a base URL, model and API key below (or ask the platform operator for OPENAI_*)."}
      </p>
      <p className="small">{describeQuota(settings.quota)}</p>
      <form noValidate onSubmit={submit} aria-label="AI settings">
        <ErrorAlert error={Object.keys(server).length ? null : update.error} />
        <fieldset className="plain" disabled={!editable}>
          <TextAreaField
            label="Brand voice"
            rows={3}
            limit={AI_LIMITS.brandVoice}
            hint="How your brand speaks, given to the model with every request (e.g. warm, short sentences, no slang)."
            {...field("brand_voice")}
          />
          <div className="grid-fields">
            <Field
              label="Base URL"
              type="url"
              placeholder="https://api.openai.com/v1"
              hint="An OpenAI-compatible endpoint (vLLM, Ollama…). Empty: the platform's."
              {...field("base_url")}
            />
            <Field label="Model" hint="Empty: the platform's model." {...field("model")} />
          </div>
          <fieldset>
            <legend>API key</legend>
            <p data-testid="ai-key-state">
              {settings.api_key_set ? (
                <>
                  Stored encrypted: <code>{describeStoredKey(settings.api_key_set, settings.api_key_last4)}</code>
                </>
              ) : (
                "No key stored for this workspace (the platform's key applies, if any)."
              )}
            </p>
            {replacing ? (
              <Field
                label={settings.api_key_set ? "New API key" : "API key"}
                name="api_key"
                type="password"
                autoComplete="off"
                spellCheck={false}
                hint="Write-only: it is never shown again, only its last four characters."
                value={newKey}
                onValueChange={(value) => {
                  setSaved(null);
                  setNewKey(value);
                }}
                error={errors.api_key ?? server.api_key}
              />
            ) : null}
            {editable && settings.api_key_set ? (
              <div className="button-row">
                {replacing ? (
                  <Button
                    onClick={() => {
                      setReplacing(false);
                      setNewKey("");
                    }}
                  >
                    Keep the stored key
                  </Button>
                ) : (
                  <Button onClick={() => setReplacing(true)}>Replace key</Button>
                )}
                <Button variant="danger" onClick={() => setRemoving(true)}>
                  Remove key
                </Button>
              </div>
            ) : null}
          </fieldset>
          {editable ? (
            <Button type="submit" variant="primary" busy={update.isPending && !removing}>
              Save AI settings
            </Button>
          ) : (
            <p className="muted">Only the owner and admins change the AI settings.</p>
          )}
        </fieldset>
      </form>
      <ConfirmDialog
        open={removing}
        title="Remove the API key?"
        confirmLabel="Remove key"
        busy={update.isPending}
        error={update.error}
        onCancel={() => {
          setRemoving(false);
          update.reset();
        }}
        onConfirm={() => update.mutate({ api_key: null })}
      >
        <p>Generation then uses the platform's provider, if one is configured.</p>
      </ConfirmDialog>
    </>
  );
}
