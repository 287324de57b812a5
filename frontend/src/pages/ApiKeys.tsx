import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { api, type ApiKey, type ApiKeyCreated, call, type Scope, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { DataTable, QueryStatus } from "../components/lists";
import { Button, Card, ConfirmDialog, CopyButton, ErrorAlert, Field, PageHeader } from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { useForm } from "../components/useForm";
import { formatDateTime, formatRelative, maskedKey } from "../lib/format";
import { wsHeader } from "../lib/queryKeys";
import { canManageTeam } from "../lib/roles";
import { LIMITS, RULES } from "../lib/validation";
import { useCurrentWorkspace, workspaceKeys } from "../state/workspace";

export const SCOPES: { value: Scope; label: string; description: string }[] = [
  { value: "send", label: "send", description: "Trigger sends and campaigns from your backend." },
  { value: "subscribers:write", label: "subscribers:write", description: "Register and update devices." },
  { value: "read", label: "read", description: "Read campaigns, subscribers and analytics." },
];

/** Named explicitly (not only from the stored selection) so the cache key and the request always agree. */

export function ApiKeysPage() {
  const { workspace } = useCurrentWorkspace();
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  if (!workspace) return null;
  if (!canManageTeam(workspace.role)) {
    return (
      <>
        <PageHeader title="API keys" />
        <ErrorAlert error={new Error("Only the owner and admins manage API keys.")} />
      </>
    );
  }
  return (
    <>
      <PageHeader
        title="API keys"
        description={
          <>
            Server-side keys for {workspace.name}. Send them as <code>Authorization: Bearer pp_live_…</code>; each key acts only in
            this workspace and within its scopes.
          </>
        }
      />
      {created ? <NewKeyPanel created={created} onDone={() => setCreated(null)} /> : <CreateKeyForm workspace={workspace} onCreated={setCreated} />}
      <KeyList workspace={workspace} />
    </>
  );
}

function CreateKeyForm({ workspace, onCreated }: { workspace: Workspace; onCreated: (key: ApiKeyCreated) => void }) {
  const queryClient = useQueryClient();
  const [scopes, setScopes] = useState<Scope[]>(["send", "subscribers:write"]);
  const [scopeError, setScopeError] = useState<string | null>(null);
  const form = useForm({ name: "" }, { name: RULES.apiKeyName });
  const create = useMutation({
    mutationFn: (body: { name: string; scopes: Scope[] }) => call(api.POST("/api/v1/api-keys/", { body, headers: wsHeader(workspace.id) })),
    onSuccess: (key) => {
      void queryClient.invalidateQueries({ queryKey: workspaceKeys.apiKeys(workspace.id) });
      form.reset();
      onCreated(key);
    },
  });
  const server = fieldMessages(create.error);
  const toggle = (scope: Scope, on: boolean) => {
    setScopeError(null);
    setScopes((prev) => (on ? [...prev.filter((s) => s !== scope), scope] : prev.filter((s) => s !== scope)));
  };

  return (
    <Card title="Create an API key">
      <form
        noValidate
        onSubmit={form.handleSubmit((v) => {
          if (scopes.length === 0) {
            setScopeError("Choose at least one scope.");
            return;
          }
          // Keep the API's order so a key's scopes always read the same way.
          create.mutate({ name: v.name.trim(), scopes: SCOPES.map((s) => s.value).filter((s) => scopes.includes(s)) });
        })}
      >
        <ErrorAlert error={Object.keys(server).length ? null : create.error} />
        <Field
          label="Key name"
          placeholder="Production backend"
          hint={`Up to ${LIMITS.apiKeyName} characters, so you recognise it later.`}
          {...form.field("name", server)}
        />
        <fieldset className="scopes" aria-describedby={scopeError || server.scopes ? "scope-error" : undefined}>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope.value} className="checkbox">
              <input
                type="checkbox"
                name="scopes"
                value={scope.value}
                checked={scopes.includes(scope.value)}
                onChange={(event) => toggle(scope.value, event.target.checked)}
              />
              <span>
                <code>{scope.label}</code> <span className="muted">— {scope.description}</span>
              </span>
            </label>
          ))}
          {scopeError || server.scopes ? (
            <p id="scope-error" className="field-error">
              {scopeError ?? server.scopes}
            </p>
          ) : null}
        </fieldset>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create key
        </Button>
      </form>
    </Card>
  );
}

/** The whole key, shown once: the API stores only its prefix and a hash. */
function NewKeyPanel({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="card card-highlight" aria-labelledby="new-key-title">
      <h2 id="new-key-title" ref={heading} tabIndex={-1}>
        Copy your new key now
      </h2>
      <p>
        This is the only time <strong>{created.name}</strong> is shown in full. Store it in your backend's secrets; if you lose it,
        revoke it and create another.
      </p>
      <div className="key-reveal">
        <label htmlFor="new-key-value" className="visually-hidden">
          New API key
        </label>
        <input
          id="new-key-value"
          className="mono"
          readOnly
          value={created.key}
          onFocus={(event) => event.currentTarget.select()}
          data-testid="new-api-key"
        />
        <CopyButton text={created.key} label="Copy key" />
      </div>
      <Button onClick={onDone}>I have stored it</Button>
    </section>
  );
}

function KeyList({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: workspaceKeys.apiKeys(workspace.id),
    queryFn: () =>
      call(api.GET("/api/v1/api-keys/", { params: { query: { page_size: 500 } }, headers: wsHeader(workspace.id) })),
  });
  const revoke = useConfirmedMutation({
    mutationFn: (key: ApiKey) => call(api.DELETE("/api/v1/api-keys/{id}/", { params: { path: { id: key.id } }, headers: wsHeader(workspace.id) })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: workspaceKeys.apiKeys(workspace.id) }),
  });
  const rows = keys.data?.results ?? [];
  const revoking = revoke.target;

  return (
    <Card title="Active keys">
      <QueryStatus query={keys} isEmpty={rows.length === 0} empty="No API keys yet." />
      <DataTable
        columns={["Name", "Key", "Scopes", "Created", "Last used"]}
        actions
        rows={rows}
        row={(key) => (
          <tr key={key.id}>
            <td>{key.name}</td>
            <td>
              <code>{maskedKey(key.prefix)}</code>
            </td>
            <td>
              {key.scopes.map((scope) => (
                <span key={scope} className="badge">
                  {scope}
                </span>
              ))}
            </td>
            <td>{formatDateTime(key.created_at)}</td>
            <td title={formatDateTime(key.last_used_at)}>{formatRelative(key.last_used_at)}</td>
            <td className="actions">
              <Button variant="danger" onClick={() => revoke.ask(key)} aria-label={`Revoke key ${key.name}`}>
                Revoke
              </Button>
            </td>
          </tr>
        )}
      />
      <ConfirmDialog {...revoke.dialog} title="Revoke API key?" confirmLabel="Revoke key">
        <p>
          Requests signed with <strong>{revoking?.name}</strong> (<code>{revoking ? maskedKey(revoking.prefix) : ""}</code>) will
          be refused at once. This cannot be undone.
        </p>
      </ConfirmDialog>
    </Card>
  );
}
