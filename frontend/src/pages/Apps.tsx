/** Connected apps: Firebase (FCM HTTP v1) projects and Web Push (VAPID) sites, their keys, and a test send. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { api, call, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Card, CopyButton, DefinitionList, EmptyState, ErrorAlert, Field, Loading, Notice, PageHeader, ProblemAlert, SelectField, StatusBadge } from "../components/ui";
import { canManageApps, canSendTest } from "../lib/abilities";
import { CONTENT_LIMITS } from "../lib/campaigns";
import { formatDateTime } from "../lib/format";
import { wsHeader, wsKeys } from "../lib/queryKeys";
import { useCurrentWorkspace } from "../state/workspace";
import { type App, useApps } from "./dataHooks";

export function AppsPage() {
  const { workspace } = useCurrentWorkspace();
  if (!workspace) return null;
  const admin = canManageApps(workspace.role);
  return (
    <>
      <PageHeader
        title="Apps"
        description="Where notifications go out: your Firebase project (Android/iOS apps) and your websites (Web Push). Each app has a public SDK key for its devices."
      />
      {admin ? (
        <div className="grid-2 equal">
          <ConnectWebPush workspace={workspace} />
          <ConnectFirebase workspace={workspace} />
        </div>
      ) : (
        <p className="muted">Only the owner and admins connect apps.</p>
      )}
      <AppList workspace={workspace} />
    </>
  );
}

function ConnectWebPush({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [subject, setSubject] = useState("");
  const [submitted, setSubmitted] = useState(false);
  const create = useMutation({
    mutationFn: () =>
      call(api.POST("/api/v1/apps/", { body: { kind: "web_push", name: name.trim(), subject: subject.trim() }, headers: wsHeader(workspace.id) })),
    onSuccess: async () => {
      setName("");
      setSubject("");
      setSubmitted(false);
      await queryClient.invalidateQueries({ queryKey: wsKeys.apps(workspace.id) });
    },
  });
  const server = fieldMessages(create.error);
  const checks = {
    name: !name.trim() ? "Name the site." : name.length > 100 ? "Use at most 100 characters." : undefined,
    subject: /^(mailto:\S+@\S+|https:\/\/\S+)$/.test(subject.trim()) ? undefined : "A mailto: address or an https: URL.",
  };
  const errors: Partial<typeof checks> = submitted ? checks : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (checks.name || checks.subject) return;
    create.mutate();
  };
  return (
    <Card title="Connect a website (Web Push)">
      <form noValidate onSubmit={submit} aria-label="Connect a website">
        <ErrorAlert error={Object.keys(server).length ? null : create.error} />
        <Field label="Site name" name="webpush_name" value={name} onValueChange={setName} error={errors.name ?? server.name} placeholder="Shop website" />
        <Field
          label="VAPID subject"
          name="subject"
          value={subject}
          onValueChange={setSubject}
          error={errors.subject ?? server.subject}
          placeholder="mailto:push@example.com"
          hint="Push services contact you here: a mailto: address or an https: URL. We generate the VAPID key pair."
        />
        <Button type="submit" variant="primary" busy={create.isPending}>
          Connect website
        </Button>
      </form>
      {create.isSuccess ? <Notice>Connected {create.data.name}. Its keys are below.</Notice> : null}
    </Card>
  );
}

function ConnectFirebase({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const fileId = useId();
  const [name, setName] = useState("");
  const [account, setAccount] = useState<Record<string, unknown> | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [fileKey, setFileKey] = useState(0);
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/apps/", {
          body: { kind: "fcm", name: name.trim() || `Firebase (${String(account?.project_id ?? "")})`, service_account: account ?? {} },
          headers: wsHeader(workspace.id),
        }),
      ),
    onSuccess: async () => {
      setName("");
      setAccount(null);
      setFileKey((k) => k + 1);
      await queryClient.invalidateQueries({ queryKey: wsKeys.apps(workspace.id) });
    },
  });
  const server = fieldMessages(create.error);
  const readFile = async (file: File | undefined) => {
    setAccount(null);
    setFileError(null);
    create.reset();
    if (!file) return;
    if (file.size > 64 * 1024) {
      setFileError("The file is larger than 64 KiB: choose the service-account JSON.");
      return;
    }
    try {
      const parsed: unknown = JSON.parse(await file.text());
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !("project_id" in parsed)) {
        setFileError("This is not a service-account JSON (no project_id).");
        return;
      }
      setAccount(parsed as Record<string, unknown>);
    } catch {
      setFileError("The file is not JSON.");
    }
  };
  return (
    <Card title="Connect Firebase (FCM)">
      <form
        noValidate
        aria-label="Connect Firebase"
        onSubmit={(event) => {
          event.preventDefault();
          if (!account) {
            setFileError("Choose the service-account JSON file.");
            return;
          }
          create.mutate();
        }}
      >
        <ErrorAlert error={Object.keys(server).length ? null : create.error} />
        <Field label="App name" name="fcm_name" value={name} onValueChange={setName} placeholder="Android and iOS apps" error={server.name} />
        <div className="field">
          <label htmlFor={fileId}>Service-account JSON</label>
          <input
            key={fileKey}
            id={fileId}
            type="file"
            accept=".json,application/json"
            onChange={(event) => void readFile(event.target.files?.[0])}
            aria-describedby={`${fileId}-hint`}
            aria-invalid={fileError || server.service_account ? true : undefined}
          />
          <p id={`${fileId}-hint`} className="hint">
            Firebase console → Project settings → Service accounts → Generate new private key. It is encrypted at rest and never shown again.
          </p>
          {account ? (
            <p className="hint">
              Project <code>{String(account.project_id)}</code>, {String(account.client_email ?? "")}
            </p>
          ) : null}
          {fileError || server.service_account ? <p className="field-error">{fileError ?? server.service_account}</p> : null}
        </div>
        <Button type="submit" variant="primary" busy={create.isPending}>
          Connect Firebase
        </Button>
      </form>
      {create.isSuccess ? <Notice>Connected {create.data.name}.</Notice> : null}
    </Card>
  );
}

function AppList({ workspace }: { workspace: Workspace }) {
  const apps = useApps(workspace.id);
  return (
    <>
      {apps.isLoading ? <Loading /> : null}
      <ErrorAlert error={apps.error} />
      {apps.isSuccess && apps.data.length === 0 ? (
        <Card>
          <EmptyState>No app connected yet.</EmptyState>
        </Card>
      ) : null}
      {(apps.data ?? []).map((app) => (
        <AppCard key={app.id} workspace={workspace} app={app} />
      ))}
    </>
  );
}

function KeyRow({ label, value, copyLabel }: { label: string; value: string; copyLabel: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="key-reveal">
        <input id={id} className="mono" readOnly value={value} onFocus={(event) => event.currentTarget.select()} />
        <CopyButton text={value} label={copyLabel} />
      </div>
    </div>
  );
}

function AppCard({ workspace, app }: { workspace: Workspace; app: App }) {
  const web = app.kind === "web_push";
  return (
    <Card title={app.name} className="app-card">
      <p>
        <span className="badge">{web ? "Web Push" : "Firebase"}</span>
        <StatusBadge status={app.status} />
        {app.is_default ? <span className="badge">default</span> : null}
        {app.status_reason ? <span className="muted small"> {app.status_reason}</span> : null}
      </p>
      <KeyRow label={`SDK key of ${app.name}`} value={app.sdk_key} copyLabel="Copy SDK key" />
      {web && app.vapid_public_key ? <KeyRow label={`VAPID public key of ${app.name}`} value={app.vapid_public_key} copyLabel="Copy VAPID key" /> : null}
      <DefinitionList
        items={[
          ...(web
            ? [{ term: "Subject", value: app.subject || "—" }]
            : [
                { term: "Project", value: app.project_id || "—" },
                { term: "Service account", value: app.client_email || "—" },
                { term: "Key id", value: app.private_key_id ?? "—" },
              ]),
          { term: "Connected", value: formatDateTime(app.created_at) },
        ]}
      />
      {canSendTest(workspace.role) ? <TestMessage workspace={workspace} app={app} /> : null}
    </Card>
  );
}

function TestMessage({ workspace, app }: { workspace: Workspace; app: App }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState("subscriber");
  const [subscriberId, setSubscriberId] = useState("");
  const [token, setToken] = useState("");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const subscribers = useQuery({
    queryKey: wsKeys.subscribers(workspace.id, { app: app.id, status: "active", test: true }),
    enabled: open,
    queryFn: () =>
      call(api.GET("/api/v1/subscribers/", { params: { query: { app: app.id, status: "active", page_size: 50 } }, headers: wsHeader(workspace.id) })),
  });
  const send = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/apps/{id}/test/", {
          params: { path: { id: app.id } },
          body: {
            ...(target === "token" ? { fcm_token: token.trim() } : { subscriber_id: subscriberId }),
            ...(title.trim() ? { title: title.trim() } : {}),
            ...(body.trim() ? { body: body.trim() } : {}),
          },
          headers: wsHeader(workspace.id),
        }),
      ),
  });
  if (!open) {
    return (
      <Button onClick={() => setOpen(true)} aria-label={`Send a test message through ${app.name}`}>
        Send a test message
      </Button>
    );
  }
  const options = (subscribers.data?.results ?? []).map((s) => ({
    value: s.id,
    label: `${s.external_user_id || s.id.slice(0, 8)} · ${s.platform}${s.push_service ? ` · ${s.push_service}` : ""}`,
  }));
  const ready = target === "token" ? Boolean(token.trim()) : Boolean(subscriberId);
  return (
    <form
      className="subform"
      aria-label={`Test message through ${app.name}`}
      onSubmit={(event) => {
        event.preventDefault();
        if (ready) send.mutate();
      }}
    >
      <h3>Test message</h3>
      {app.kind === "fcm" ? (
        <SelectField
          label="Send to"
          name="test_target"
          value={target}
          onValueChange={setTarget}
          options={[
            { value: "subscriber", label: "A subscriber" },
            { value: "token", label: "An FCM registration token" },
          ]}
        />
      ) : null}
      {target === "token" ? (
        <Field label="FCM token" name="fcm_token" value={token} onValueChange={setToken} />
      ) : (
        <SelectField
          label="Subscriber"
          name="test_subscriber"
          value={subscriberId}
          onValueChange={setSubscriberId}
          options={[{ value: "", label: subscribers.isLoading ? "Loading…" : options.length ? "Choose a subscriber…" : "No active subscriber yet" }, ...options]}
        />
      )}
      <div className="grid-fields">
        <Field label="Title" name="test_title" limit={CONTENT_LIMITS.title} placeholder="PushPilot test" value={title} onValueChange={setTitle} />
        <Field label="Body" name="test_body" limit={CONTENT_LIMITS.body} placeholder="If you can read this, your app is connected." value={body} onValueChange={setBody} />
      </div>
      <ProblemAlert error={send.error} />
      {send.data ? (
        <div className={`alert ${send.data.outcome === "sent" ? "alert-success" : "alert-error"}`} role="status">
          Outcome: <strong>{send.data.outcome}</strong>
          {send.data.outcome === "invalid" ? " — the subscription is gone; the subscriber is marked invalid." : null}
          {send.data.outcome === "retry" ? " — the push service asked to retry later." : null}
          <pre className="provider-response">{JSON.stringify(send.data.provider_response, null, 2)}</pre>
        </div>
      ) : null}
      <div className="button-row">
        <Button type="submit" variant="primary" busy={send.isPending} disabled={!ready}>
          Send test
        </Button>
        <Button
          onClick={() => {
            setOpen(false);
            send.reset();
          }}
        >
          Close
        </Button>
      </div>
    </form>
  );
}
