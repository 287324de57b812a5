/** The copy of a campaign: contents per language and A/B variant, with limits, activation and templates. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, call, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Card, ConfirmDialog, EmptyState, ErrorAlert, Field, Loading, ProblemAlert, TextAreaField, useDebounced } from "../components/ui";
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
  const [deleting, setDeleting] = useState<Content | null>(null);
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
  const remove = useMutation({
    mutationFn: (content: Content) =>
      call(api.DELETE("/api/v1/campaigns/{campaign_pk}/contents/{id}/", { params: { path: { campaign_pk: campaign.id, id: content.id } }, headers })),
    onSuccess: async () => {
      setDeleting(null);
      await refresh();
    },
  });
  const rows = contents.data?.results ?? [];
  const shares = variantShares(rows);

  return (
    <Card title="Contents">
      <p className="muted">
        One content per language and A/B variant; active variants of a language share its traffic by weight. Title up to {CONTENT_LIMITS.title}{" "}
        characters, body up to {CONTENT_LIMITS.body}; <code>{"{{ first_name | default: \"there\" }}"}</code> personalizes from subscriber attributes.
      </p>
      {contents.isLoading ? <Loading /> : null}
      <ErrorAlert error={contents.error} />
      <ProblemAlert error={toggle.error} />
      {contents.isSuccess && rows.length === 0 ? <EmptyState>No content yet: add the title and body people will see.</EmptyState> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Contents</caption>
            <thead>
              <tr>
                <th scope="col">Language</th>
                <th scope="col">Variant</th>
                <th scope="col">Share</th>
                <th scope="col">Copy</th>
                <th scope="col">Active</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((content) => (
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
                        <Button variant="danger" onClick={() => setDeleting(content)} aria-label={`Delete ${content.language} variant ${content.variant}`}>
                          Delete
                        </Button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
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
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this content?"
        confirmLabel="Delete content"
        busy={remove.isPending}
        error={remove.error}
        onCancel={() => {
          setDeleting(null);
          remove.reset();
        }}
        onConfirm={() => deleting && remove.mutate(deleting)}
      >
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
  const [submitted, setSubmitted] = useState(false);
  const set = (key: keyof typeof values) => (value: string) => setValues((prev) => ({ ...prev, [key]: value }));
  const local = {
    title: !values.title.trim() ? "Write a title." : [...values.title].length > CONTENT_LIMITS.title ? `Use at most ${CONTENT_LIMITS.title} characters.` : null,
    body: !values.body.trim() ? "Write the body." : [...values.body].length > CONTENT_LIMITS.body ? `Use at most ${CONTENT_LIMITS.body} characters.` : null,
    variant: /^[A-Za-z0-9_-]{1,32}$/.test(values.variant) ? null : "Letters, digits, _ and - only (at most 32).",
    weight: /^\d+$/.test(values.weight) && Number(values.weight) <= CONTENT_LIMITS.weightMax ? null : `A whole number from 0 to ${CONTENT_LIMITS.weightMax}.`,
    click_url: urlError(values.click_url),
    image_url: urlError(values.image_url),
  };
  const errors: Record<string, string | null> = submitted ? local : {};
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
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (Object.values(local).some(Boolean)) return;
    save.mutate();
  };
  return (
    <form className="subform" noValidate onSubmit={submit} aria-label={content ? "Edit content" : "New content"}>
      <h3>{content ? `Edit ${content.language} variant ${content.variant}` : "New content"}</h3>
      <ProblemAlert error={Object.keys(server).some((k) => k in values) ? null : save.error} />
      <Field label="Title" name="title" limit={CONTENT_LIMITS.title} value={values.title} onValueChange={set("title")} error={errors.title ?? server.title} />
      <TextAreaField label="Body" name="body" rows={3} limit={CONTENT_LIMITS.body} value={values.body} onValueChange={set("body")} error={errors.body ?? server.body} />
      <div className="grid-fields">
        <Field label="Language" name="language" value={values.language} onValueChange={set("language")} error={server.language} hint="BCP 47, e.g. en, de, pt-BR." />
        <Field label="Variant label" name="variant" value={values.variant} onValueChange={set("variant")} error={errors.variant ?? server.variant} hint="A, B… for A/B tests." />
        <Field label="Weight" name="weight" type="number" min={0} max={CONTENT_LIMITS.weightMax} value={values.weight} onValueChange={set("weight")} error={errors.weight ?? server.weight} />
        <Field label="Click URL (optional)" name="click_url" type="url" value={values.click_url} onValueChange={set("click_url")} error={errors.click_url ?? server.click_url} />
        <Field label="Image URL (optional)" name="image_url" type="url" value={values.image_url} onValueChange={set("image_url")} error={errors.image_url ?? server.image_url} />
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
      {templates.isLoading ? <Loading /> : null}
      <ErrorAlert error={templates.error} />
      {templates.isSuccess && rows.length === 0 ? <EmptyState>No template matches.</EmptyState> : null}
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
