import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Invitation, type InviteRole, type Member, type Role, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import { DataTable, QueryStatus } from "../components/lists";
import { Button, Card, ConfirmDialog, ErrorAlert, Field, Notice, PageHeader, RoleBadge, SelectField } from "../components/ui";
import { useConfirmedMutation } from "../components/useConfirmedMutation";
import { useForm } from "../components/useForm";
import { formatDateTime, formatRelative } from "../lib/format";
import { assignableRoles, canManageTeam, ROLE_LABELS } from "../lib/roles";
import { RULES } from "../lib/validation";
import { useSession } from "../state/session";
import { useCurrentWorkspace, useMembers, workspaceKeys } from "../state/workspace";

export function MembersPage() {
  const { workspace } = useCurrentWorkspace();
  if (!workspace) return null;
  const admin = canManageTeam(workspace.role);
  return (
    <>
      <PageHeader
        title="Members"
        description={admin ? `Invite people to ${workspace.name} and choose what they can do.` : `People in ${workspace.name}.`}
      />
      {admin ? <InviteForm workspace={workspace} /> : null}
      <MemberTable workspace={workspace} />
      {admin ? <PendingInvitations workspace={workspace} /> : null}
    </>
  );
}

const INVITE_ROLES: { value: InviteRole; label: string }[] = [
  { value: "member", label: "Member — campaigns, subscribers, segments" },
  { value: "admin", label: "Admin — also team, API keys, integrations" },
  { value: "viewer", label: "Viewer — read only" },
];

function InviteForm({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm({ email: "", role: "member" }, { email: RULES.email });
  const invite = useMutation({
    mutationFn: (body: { email: string; role: InviteRole }) =>
      call(api.POST("/api/v1/workspaces/{workspace_pk}/members/", { params: { path: { workspace_pk: workspace.id } }, body })),
    onSuccess: (invitation) => {
      setSentTo(invitation.email);
      form.reset();
      void queryClient.invalidateQueries({ queryKey: workspaceKeys.invitations(workspace.id) });
    },
    onMutate: () => setSentTo(null),
  });
  const server = fieldMessages(invite.error);

  return (
    <Card title="Invite a member">
      <form
        noValidate
        className="inline-form"
        onSubmit={form.handleSubmit((v) => invite.mutate({ email: v.email.trim(), role: v.role as InviteRole }))}
      >
        <Field
          label="Email address"
          type="email"
          autoComplete="off"
          placeholder="teammate@example.com"
          className="grow"
          {...form.field("email", server)}
        />
        <SelectField label="Role" options={INVITE_ROLES} {...form.field("role", server)} />
        <Button type="submit" variant="primary" busy={invite.isPending}>
          Send invitation
        </Button>
      </form>
      <ErrorAlert error={Object.keys(server).length ? null : invite.error} />
      {sentTo ? <Notice>Invitation sent to {sentTo}. The link works once and expires in 7 days.</Notice> : null}
    </Card>
  );
}

function MemberTable({ workspace }: { workspace: Workspace }) {
  const members = useMembers(workspace.id);
  const queryClient = useQueryClient();
  const remove = useConfirmedMutation({
    mutationFn: (member: Member) =>
      call(
        api.DELETE("/api/v1/workspaces/{workspace_pk}/members/{id}/", {
          params: { path: { workspace_pk: workspace.id, id: member.id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: workspaceKeys.members(workspace.id) }),
  });
  const rows = members.data?.results ?? [];

  return (
    <Card title="Team">
      <QueryStatus query={members} isEmpty={rows.length === 0} empty="No members." />
      <DataTable
        columns={["Name", "Email", "Role", "Joined"]}
        actions
        rows={rows}
        row={(member) => <MemberRow key={member.id} workspace={workspace} member={member} onRemove={() => remove.ask(member)} />}
      />
      <ConfirmDialog {...remove.dialog} title="Remove member?" confirmLabel="Remove">
        <p>
          {remove.target?.user.email} will lose access to {workspace.name} at once. You can invite them again later.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

function MemberRow({ workspace, member, onRemove }: { workspace: Workspace; member: Member; onRemove: () => void }) {
  const { user } = useSession();
  const queryClient = useQueryClient();
  const isSelf = member.user.id === user?.id;
  const roles = assignableRoles(workspace.role, member.role, isSelf);
  const change = useMutation({
    mutationFn: (role: Role) =>
      call(
        api.PATCH("/api/v1/workspaces/{workspace_pk}/members/{id}/", {
          params: { path: { workspace_pk: workspace.id, id: member.id } },
          body: { role },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.members(workspace.id) });
      if (isSelf) await queryClient.invalidateQueries({ queryKey: workspaceKeys.all });
    },
  });
  const name = member.user.full_name || member.user.email;

  return (
    <tr>
      <td>
        {name}
        {isSelf ? <span className="muted"> (you)</span> : null}
      </td>
      <td>{member.user.email}</td>
      <td>
        {roles.length ? (
          <>
            <label className="visually-hidden" htmlFor={`role-${member.id}`}>
              Role of {member.user.email}
            </label>
            <select
              id={`role-${member.id}`}
              value={member.role}
              disabled={change.isPending}
              onChange={(event) => change.mutate(event.target.value as Role)}
            >
              {roles.map((role) => (
                <option key={role} value={role}>
                  {ROLE_LABELS[role]}
                </option>
              ))}
            </select>
            {change.error ? <ErrorAlert error={change.error} /> : null}
          </>
        ) : (
          <RoleBadge role={member.role} />
        )}
      </td>
      <td>{formatDateTime(member.joined_at)}</td>
      <td className="actions">
        {canManageTeam(workspace.role) && member.role !== "owner" && !isSelf ? (
          <Button variant="danger" onClick={onRemove} aria-label={`Remove ${member.user.email}`}>
            Remove
          </Button>
        ) : null}
      </td>
    </tr>
  );
}

function PendingInvitations({ workspace }: { workspace: Workspace }) {
  const queryClient = useQueryClient();
  const invitations = useQuery({
    queryKey: workspaceKeys.invitations(workspace.id),
    queryFn: () =>
      call(
        api.GET("/api/v1/workspaces/{workspace_pk}/invitations/", {
          params: { path: { workspace_pk: workspace.id }, query: { page_size: 500 } },
        }),
      ),
  });
  const revoke = useConfirmedMutation({
    mutationFn: (invitation: Invitation) =>
      call(
        api.DELETE("/api/v1/workspaces/{workspace_pk}/invitations/{id}/", {
          params: { path: { workspace_pk: workspace.id, id: invitation.id } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: workspaceKeys.invitations(workspace.id) }),
  });
  const rows = invitations.data?.results ?? [];

  return (
    <Card title="Pending invitations">
      <QueryStatus query={invitations} isEmpty={rows.length === 0} empty="No pending invitations." />
      <DataTable
        columns={["Email", "Role", "Invited by", "Expires"]}
        actions
        rows={rows}
        row={(invitation) => (
          <tr key={invitation.id}>
            <td>{invitation.email}</td>
            <td>
              <RoleBadge role={invitation.role} />
            </td>
            <td>{invitation.invited_by?.full_name || invitation.invited_by?.email || "—"}</td>
            <td title={formatDateTime(invitation.expires_at)}>{formatRelative(invitation.expires_at)}</td>
            <td className="actions">
              <Button variant="danger" onClick={() => revoke.ask(invitation)} aria-label={`Revoke invitation for ${invitation.email}`}>
                Revoke
              </Button>
            </td>
          </tr>
        )}
      />
      <ConfirmDialog {...revoke.dialog} title="Revoke invitation?" confirmLabel="Revoke invitation">
        <p>The link sent to {revoke.target?.email} will stop working.</p>
      </ConfirmDialog>
    </Card>
  );
}
