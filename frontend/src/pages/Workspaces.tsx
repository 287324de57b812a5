import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { api, call } from "../api/client";
import { fieldMessages } from "../api/errors";
import { Button, Card, EmptyState, ErrorAlert, Field, Loading, PageHeader, RoleBadge } from "../components/ui";
import { useForm } from "../components/useForm";
import { TimezoneField } from "../components/TimezoneField";
import { browserTimezone, formatDateTime } from "../lib/format";
import { LIMITS, RULES } from "../lib/validation";
import { selectWorkspace, useCurrentWorkspace, workspaceKeys } from "../state/workspace";

export function WorkspacesPage() {
  const { workspace: current, workspaces, isLoading, error } = useCurrentWorkspace();
  const navigate = useNavigate();

  const open = (id: string) => {
    selectWorkspace(id);
    navigate("/members");
  };

  return (
    <>
      <PageHeader title="Workspaces" description="Each workspace has its own apps, subscribers, campaigns and team." />
      <div className="grid-2">
        <Card title="Your workspaces">
          {isLoading ? <Loading /> : null}
          <ErrorAlert error={error} />
          {!isLoading && !error && workspaces.length === 0 ? (
            <EmptyState>You are not in any workspace yet. Create one to get started.</EmptyState>
          ) : null}
          {workspaces.length > 0 ? (
            <ul className="workspace-list">
              {workspaces.map((w) => (
                <li key={w.id} className={w.id === current?.id ? "is-current" : undefined}>
                  <div>
                    <p className="workspace-name">
                      {w.name} <RoleBadge role={w.role} />
                    </p>
                    <p className="muted small">
                      {w.slug} · {w.timezone} · {w.plan_type} plan · since {formatDateTime(w.created_at)}
                    </p>
                  </div>
                  <Button
                    variant={w.id === current?.id ? "secondary" : "primary"}
                    onClick={() => open(w.id)}
                    aria-label={`Open ${w.name}`}
                  >
                    {w.id === current?.id ? "Current" : "Open"}
                  </Button>
                </li>
              ))}
            </ul>
          ) : null}
        </Card>
        <CreateWorkspace onCreated={open} />
      </div>
    </>
  );
}

function CreateWorkspace({ onCreated }: { onCreated: (id: string) => void }) {
  const queryClient = useQueryClient();
  const form = useForm({ name: "", timezone: browserTimezone() }, { name: RULES.workspaceName, timezone: RULES.timezone });
  const create = useMutation({
    mutationFn: (body: { name: string; timezone?: string }) => call(api.POST("/api/v1/workspaces/", { body })),
    onSuccess: async (workspace) => {
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.all });
      form.reset();
      onCreated(workspace.id);
    },
  });
  const server = fieldMessages(create.error);

  return (
    <Card title="Create a workspace">
      <form
        noValidate
        onSubmit={form.handleSubmit((v) => create.mutate({ name: v.name.trim(), timezone: v.timezone.trim() || "UTC" }))}
      >
        <ErrorAlert error={create.error} />
        <Field
          label="Workspace name"
          name="name"
          required
          placeholder="Acme Foods"
          hint={`Up to ${LIMITS.workspaceName} characters. You become its owner.`}
          value={form.values.name}
          onValueChange={form.set("name")}
          error={form.errors.name ?? server.name ?? server.slug}
        />
        <TimezoneField
          hint="Schedules use it unless a campaign says otherwise."
          value={form.values.timezone}
          onValueChange={form.set("timezone")}
          error={form.errors.timezone ?? server.timezone}
        />
        <Button type="submit" variant="primary" busy={create.isPending}>
          Create workspace
        </Button>
      </form>
    </Card>
  );
}
