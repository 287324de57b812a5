/** The copy of a campaign: contents per language and A/B variant, with limits, activation and templates. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { DataTable, QueryStatus } from "../components/lists";
import { Button, Card, ConfirmDialog, Field, ProblemAlert, TextAreaField, useDebounced } from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { fieldBinder, useCheckedSubmit } from "../components/useForm";
import { canUseAi, canWriteCampaigns } from "../lib/abilities";
import { campaignVerbs, CONTENT_LIMITS, urlError, variantShares } from "../lib/campaigns";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { AiPanel } from "./AiPanel";
import type { Campaign, Content } from "./dataHooks";

export function CampaignContents({ workspace, campaign }: { workspace: Workspace; campaign: Campaign }) {
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Content | "new" | null>(null);
  const [picking, setPicking] = useState(false);
  const [writing, setWriting] = useState(false);
  const writable = canWriteCampaigns(workspace.role) && campaignVerbs(campaign.status, campaign.schedule_type).editContent;
  const headers = wsHeader(workspace.id);
  const contents = useQuery({
    queryKey: wsKeys.contents(workspace.id, campaign.id),
    queryFn: () =>
      call(api.GET("/api/v1/campaigns/{campaign_pk}/contents/", { params: { path: { campaign_pk: campaign.id }, query: { page_size: 100 } }, headers })),
  });
  const refresh = async () => {
    await queryClient.invalidateQueries({ queryKey: wsKeys.contents(workspace.id, campaign.id) });
    await queryClient.invalidateQueries({ queryKey: wsKeys.campaign(workspace.id, campaign.id) });
  };
  const toggle = useMutation({
    mutationFn: (content: Content) =>
      call(
        api.PATCH("/api/v1/campaigns/{campaign_pk}/contents/{id}/", {
          params: { path: { campaign_pk: campaign.id, id: content.id } },
          body: { is_active: !content.is_active },
          headers,
        }),
      ),
    onSuccess: refresh,
  });
  const remove = useConfirmedMutation({
    mutationFn: (content: Content) =>
      call(api.DELETE("/api/v1/campaigns/{campaign_pk}/contents/{id}/", { params: { path: { campaign_pk: campaign.id, id: content.id } }, headers })),
    onSuccess: refresh,
  });
  const rows = contents.data?.results ?? [];
  const shares = variantShares(rows);
  const deleting = remove.target;

  return (
    <Card title="Contents">
      <p className="muted">
        One content per language and A/B variant; active variants of a language share its traffic by weight. Title up to {CONTENT_LIMITS.title}{" "}
        characters, body up to {CONTENT_LIMITS.body}; <code>{"{{ first_name | default: \"there\" }}"}</code> personalizes from subscriber attributes.
      </p>
      <QueryStatus query={contents} isEmpty={rows.length === 0} empty="No content yet: add the title and body people will see." />
      <ProblemAlert error={toggle.error} />
      <DataTable
        caption="Contents"
        columns={["Language", "Variant", "Share", "Copy", "Active"]}
        actions
        rows={rows}
        row={(content) => (
          <tr key={content.id} className={content.is_active ? "" : "inactive"}>
            <td>{content.language}</td>
            <td>
              <span className="badge">{content.variant}</span>
              {content.generated_by === "ai" ? <span className="badge">AI</span> : null}
            </td>
            <td title={`weight ${content.weight}`}>{content.is_active ? `${shares[content.id] ?? 0}%` : "—"}</td>
            <td>
              <strong>{content.title}</strong>
              <div className="muted small">{content.body}</div>
            </td>
            <td>
              {writable ? (
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={content.is_active}
                    disabled={toggle.isPending}
                    onChange={() => toggle.mutate(content)}
                    aria-label={`Active: ${content.language} variant ${content.variant}`}
                  />
                  <span aria-hidden="true">{content.is_active ? "on" : "off"}</span>
                </label>
              ) : content.is_active ? (
                "yes"
              ) : (
                "no"
              )}
            </td>
            <td className="actions">
              {writable ? (
                <>
                  <Button variant="ghost" onClick={() => setEditing(content)} aria-label={`Edit ${content.language} variant ${content.variant}`}>
                    Edit
                  </Button>
                  <Button variant="danger" onClick={() => remove.ask(content)} aria-label={`Delete ${content.language} variant ${content.variant}`}>
                    Delete
                  </Button>
                </>
              ) : null}
            </td>
          </tr>
        )}
      />
      {writable && editing === null && !picking && !writing ? (
        <div className="button-row">
          <Button variant="primary" onClick={() => setEditing("new")}>
            Add content
          </Button>
          <Button onClick={() => setPicking(true)}>Apply a template</Button>
          {canUseAi(workspace.role) ? <Button onClick={() => setWriting(true)}>Write with AI</Button> : null}
        </div>
      ) : null}
      {writable && writing && canUseAi(workspace.role) ? (
        <AiPanel workspace={workspace} campaign={campaign} contents={rows} onChanged={refresh} onClose={() => setWriting(false)} />
      ) : null}
      {writable && editing !== null ? (
        <ContentForm
          key={editing === "new" ? "new" : editing.id}
          workspace={workspace}
          campaign={campaign}
          content={editing === "new" ? null : editing}
          onDone={async (changed) => {
            setEditing(null);
            if (changed) await refresh();
          }}
        />
      ) : null}
      {writable && picking ? (
        <TemplatePicker
          workspace={workspace}
          campaign={campaign}
          onDone={async (changed) => {
            setPicking(false);
            if (changed) await refresh();
          }}
        />
      ) : null}
      <ConfirmDialog {...remove.dialog} title="Delete this content?" confirmLabel="Delete content">
        <p>
          “{deleting?.title}” ({deleting?.language}, variant {deleting?.variant}) will no longer be sent.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

function ContentForm({
  workspace,
  campaign,
  content,
  onDone,
}: {
  workspace: Workspace;
  campaign: Campaign;
  content: Content | null;
  onDone: (changed: boolean) => void;
}) {
  const [values, setValues] = useState({
    title: content?.title ?? "",
    body: content?.body ?? "",
    language: content?.language ?? campaign.default_language ?? "en",
    variant: content?.variant ?? "A",
    weight: String(content?.weight ?? 1),
    click_url: content?.click_url ?? "",
    image_url: content?.image_url ?? "",
  });
  const [active, setActive] = useState(content?.is_active ?? true);
  const set = (key: keyof typeof values) => (value: string) => setValues((prev) => ({ ...prev, [key]: value }));
  const local = {
    title: !values.title.trim() ? "Write a title." : [...values.title].length > CONTENT_LIMITS.title ? `Use at most ${CONTENT_LIMITS.title} characters.` : null,
    body: !values.body.trim() ? "Write the body." : [...values.body].length > CONTENT_LIMITS.body ? `Use at most ${CONTENT_LIMITS.body} characters.` : null,
    variant: /^[A-Za-z0-9_-]{1,32}$/.test(values.variant) ? null : "Letters, digits, _ and - only (at most 32).",
    weight: /^\d+$/.test(values.weight) && Number(values.weight) <= CONTENT_LIMITS.weightMax ? null : `A whole number from 0 to ${CONTENT_LIMITS.weightMax}.`,
    click_url: urlError(values.click_url),
    image_url: urlError(values.image_url),
  };
  const { errors, handleSubmit } = useCheckedSubmit(local);
  const save = useMutation({
    mutationFn: () => {
      const body = {
        title: values.title,
        body: values.body,
        language: values.language.trim() || "en",
        variant: values.variant,
        weight: Number(values.weight),
        click_url: values.click_url.trim(),
        image_url: values.image_url.trim(),
        is_active: active,
      };
      const headers = wsHeader(workspace.id);
      return content
        ? call(api.PATCH("/api/v1/campaigns/{campaign_pk}/contents/{id}/", { params: { path: { campaign_pk: campaign.id, id: content.id } }, body, headers }))
        : call(api.POST("/api/v1/campaigns/{campaign_pk}/contents/", { params: { path: { campaign_pk: campaign.id } }, body, headers }));
    },
    onSuccess: () => onDone(true),
  });
  const server = fieldMessages(save.error);
  const field = fieldBinder(values, set, errors, server);
  return (
    <form className="subform" noValidate onSubmit={handleSubmit(() => save.mutate())} aria-label={content ? "Edit content" : "New content"}>
      <h3>{content ? `Edit ${content.language} variant ${content.variant}` : "New content"}</h3>
      <ProblemAlert error={Object.keys(server).some((k) => k in values) ? null : save.error} />
      <Field label="Title" limit={CONTENT_LIMITS.title} {...field("title")} />
      <TextAreaField label="Body" rows={3} limit={CONTENT_LIMITS.body} {...field("body")} />
      <div className="grid-fields">
        <Field label="Language" hint="BCP 47, e.g. en, de, pt-BR." {...field("language")} />
        <Field label="Variant label" hint="A, B… for A/B tests." {...field("variant")} />
        <Field label="Weight" type="number" min={0} max={CONTENT_LIMITS.weightMax} {...field("weight")} />
        <Field label="Click URL (optional)" type="url" {...field("click_url")} />
        <Field label="Image URL (optional)" type="url" {...field("image_url")} />
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={active} onChange={(event) => setActive(event.target.checked)} />
        <span>Active (only active contents are sent)</span>
      </label>
      <div className="button-row">
        <Button type="submit" variant="primary" busy={save.isPending}>
          {content ? "Save content" : "Add content"}
        </Button>
        <Button onClick={() => onDone(false)}>Cancel</Button>
      </div>
    </form>
  );
}

function TemplatePicker({ workspace, campaign, onDone }: { workspace: Workspace; campaign: Campaign; onDone: (changed: boolean) => void }) {
  const [search, setSearch] = useState("");
  const [variant, setVariant] = useState("");
  const debounced = useDebounced(search.trim(), 300);
  const headers = wsHeader(workspace.id);
  const templates = useQuery({
    queryKey: wsKeys.templates(workspace.id, debounced),
    queryFn: () => call(api.GET("/api/v1/templates/", { params: { query: { page_size: 100, ...(debounced ? { search: debounced } : {}) } }, headers })),
  });
  const apply = useMutation({
    mutationFn: (templateId: string) =>
      call(
        api.POST("/api/v1/campaigns/{id}/apply-template/", {
          params: { path: { id: campaign.id } },
          body: { template_id: templateId, ...(variant.trim() ? { variant: variant.trim() } : {}) },
          headers,
        }),
      ),
    onSuccess: () => onDone(true),
  });
  const rows = templates.data?.results ?? [];
  return (
    <section className="subform" aria-label="Templates">
      <h3>Apply a template</h3>
      <p className="muted small">Copies the template's title, body and links into a new content of this campaign. Workspace templates come first, then the global library.</p>
      <div className="inline-form">
        <Field label="Search templates" name="template_search" type="search" className="grow" value={search} onValueChange={setSearch} />
        <Field label="Variant label (optional)" name="template_variant" value={variant} onValueChange={setVariant} hint="Needed when the language already has this variant." />
      </div>
      <ProblemAlert error={apply.error} />
      <QueryStatus query={templates} isEmpty={rows.length === 0} empty="No template matches." />
      {rows.length > 0 ? (
        <ul className="template-list">
          {rows.map((template) => (
            <li key={template.id}>
              <div>
                <strong>{template.name}</strong> <span className="badge">{template.is_global ? "global" : "workspace"}</span>
                <span className="badge">{template.category}</span>
                <span className="badge">{template.language}</span>
                <div className="small">
                  {template.title} — <span className="muted">{template.body}</span>
                </div>
              </div>
              <Button onClick={() => apply.mutate(template.id)} busy={apply.isPending && apply.variables === template.id} aria-label={`Use template ${template.name}`}>
                Use
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
      <Button onClick={() => onDone(false)}>Close</Button>
    </section>
  );
}
