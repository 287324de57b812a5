import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, call, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { TimezoneField } from "../components/TimezoneField";
import { Button, Card, ErrorAlert, Field, Notice, PageHeader, SelectField } from "../components/ui";
import { useForm } from "../components/useForm";
import { canManageTeam, isOwner } from "../lib/roles";
import { LIMITS, RULES } from "../lib/validation";
import { AiSettingsCard } from "./AiSettings";
import { selectWorkspace, useCurrentWorkspace, useMembers, workspaceKeys } from "../state/workspace";

export function SettingsPage() {
  const { workspace } = useCurrentWorkspace();
  if (!workspace) return null;
  return (
    <>
      <PageHeader title="Settings" description={`Workspace ${workspace.slug} · ${workspace.plan_type} plan`} />
      {/* keyed: switching workspace starts the forms over with the other workspace's values */}
      <GeneralSettings key={`general-${workspace.id}`} workspace={workspace} />
      <AiSettingsCard key={`ai-${workspace.id}`} workspace={workspace} />
      {isOwner(workspace.role) ? (
        <>
          <TransferOwnership key={`transfer-${workspace.id}`} workspace={workspace} />
          <DeleteWorkspace key={`delete-${workspace.id}`} workspace={workspace} />
        </>
      ) : null}
    </>
  );
}

function GeneralSettings({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const editable = canManageTeam(workspace.role);
  const [saved, setSaved] = useState(false);
  const form = useForm(
    { name: workspace.name, timezone: workspace.timezone },
    { name: RULES.workspaceName, timezone: [...RULES.timezone, (v: string) => (v.trim() ? null : "Choose a timezone.")] },
  );
  const update = useMutation({
    mutationFn: (body: { name: string; timezone: string }) =>
      call(api.PATCH("/api/v1/workspaces/{workspace_pk}/", { params: { path: { workspace_pk: workspace.id } }, body })),
    onMutate: () => setSaved(false),
    onSuccess: async (updated) => {
      form.reset({ name: updated.name, timezone: updated.timezone });
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.all });
    },
  });
  const server = fieldMessages(update.error);

  return (
    <Card title="General">
      <form noValidate onSubmit={form.handleSubmit((v) => update.mutate({ name: v.name.trim(), timezone: v.timezone.trim() }))}>
        <ErrorAlert error={Object.keys(server).length ? null : update.error} />
        <fieldset disabled={!editable} className="plain">
          <Field
            label="Workspace name"
            hint={`Up to ${LIMITS.workspaceName} characters.`}
            {...form.field("name", server)}
          />
          <TimezoneField
            hint="IANA name, e.g. Europe/Paris. Recurring schedules keep their wall-clock time in it."
            value={form.values.timezone}
            onValueChange={form.set("timezone")}
            error={form.errors.timezone ?? server.timezone}
          />
          {editable ? (
            <Button type="submit" variant="primary" busy={update.isPending}>
              Save changes
            </Button>
          ) : (
            <p className="muted">Only the owner and admins change these settings.</p>
          )}
        </fieldset>
      </form>
      {saved ? <Notice>Settings saved.</Notice> : null}
    </Card>
  );
}

function TransferOwnership({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const [userId, setUserId] = useState("");
  const members = useMembers(workspace.id);
  const candidates = (members.data?.results ?? []).filter((m) => m.role !== "owner");
  const transfer = useMutation({
    mutationFn: (user_id: string) =>
      call(
        api.POST("/api/v1/workspaces/{workspace_pk}/transfer-ownership/", {
          params: { path: { workspace_pk: workspace.id } },
          body: { user_id },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ["workspaces"] });
    },
  });

  return (
    <Card title="Transfer ownership" className="card-danger">
      <p className="muted">The new owner must already be a member. You stay in the workspace as an admin.</p>
      {candidates.length === 0 ? (
        <p>Invite someone first: there is no other member to hand the workspace to.</p>
      ) : (
        <form
          className="inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            if (userId) transfer.mutate(userId);
          }}
        >
          <SelectField
            label="New owner"
            name="user_id"
            className="grow"
            value={userId}
            onValueChange={setUserId}
            options={[
              { value: "", label: "Choose a member…" },
              ...candidates.map((m) => ({ value: m.user.id, label: `${m.user.full_name || m.user.email} (${m.role})` })),
            ]}
          />
          <Button type="submit" variant="danger" disabled={!userId} busy={transfer.isPending}>
            Transfer ownership
          </Button>
        </form>
      )}
      <ErrorAlert error={transfer.error} />
    </Card>
  );
}

function DeleteWorkspace({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState("");
  const remove = useMutation({
    mutationFn: () =>
      call(
        api.DELETE("/api/v1/workspaces/{workspace_pk}/", {
          params: { path: { workspace_pk: workspace.id } },
          // The API takes {confirm: slug} in the DELETE body; the schema omits DELETE bodies, hence the cast.
          body: { confirm },
        }),
      ),
    onSuccess: async () => {
      selectWorkspace(null);
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.all });
      navigate("/workspaces", { replace: true });
    },
  });
  const matches = confirm === workspace.slug;
  const server = fieldMessages(remove.error);

  return (
    <Card title="Delete workspace" className="card-danger">
      <p>
        Deleting <strong>{workspace.name}</strong> removes its apps, subscribers, campaigns, analytics, API keys and team at once.
        It cannot be undone.
      </p>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          if (matches) remove.mutate();
        }}
      >
        <Field
          label={`Type the workspace slug “${workspace.slug}” to confirm`}
          name="confirm"
          autoComplete="off"
          spellCheck={false}
          value={confirm}
          onValueChange={setConfirm}
          error={server.confirm}
        />
        <ErrorAlert error={server.confirm ? null : remove.error} />
        <Button type="submit" variant="danger" disabled={!matches} busy={remove.isPending}>
          Delete this workspace
        </Button>
      </form>
    </Card>
  );
}
