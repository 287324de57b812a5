import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Invitation, type InviteRole, type Member, type Role, type Workspace } from "../api/client";
import { fieldMessages } from "../api/errors";
import {
  Button,
  Card,
  ConfirmDialog,
  EmptyState,
  ErrorAlert,
  Field,
  Loading,
  Notice,
  PageHeader,
  RoleBadge,
  SelectField,
} from "../components/ui";
import { useForm } from "../components/useForm";
import { formatDateTime, formatRelative } from "../lib/format";
import { assignableRoles, canManageTeam, ROLE_LABELS } from "../lib/roles";
import { RULES } from "../lib/validation";
import { useSession } from "../state/session";
import { useCurrentWorkspace, workspaceKeys } from "../state/workspace";

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
          name="email"
          type="email"
          autoComplete="off"
          placeholder="teammate@example.com"
          className="grow"
          value={form.values.email}
          onValueChange={form.set("email")}
          error={form.errors.email ?? server.email}
        />
        <SelectField
          label="Role"
          name="role"
          options={INVITE_ROLES}
          value={form.values.role}
          onValueChange={form.set("role")}
          error={server.role}
        />
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
  const members = useQuery({
    queryKey: workspaceKeys.members(workspace.id),
    queryFn: () =>
      call(
        api.GET("/api/v1/workspaces/{workspace_pk}/members/", {
          params: { path: { workspace_pk: workspace.id }, query: { page_size: 500 } },
        }),
      ),
  });
  const [removing, setRemoving] = useState<Member | null>(null);
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: (member: Member) =>
      call(
        api.DELETE("/api/v1/workspaces/{workspace_pk}/members/{id}/", {
          params: { path: { workspace_pk: workspace.id, id: member.id } },
        }),
      ),
    onSuccess: async () => {
      setRemoving(null);
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.members(workspace.id) });
    },
  });

  return (
    <Card title="Team">
      {members.isLoading ? <Loading /> : null}
      <ErrorAlert error={members.error} />
      {members.data && members.data.results.length === 0 ? <EmptyState>No members.</EmptyState> : null}
      {members.data && members.data.results.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.results.map((member) => (
                <MemberRow key={member.id} workspace={workspace} member={member} onRemove={() => setRemoving(member)} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={removing !== null}
        title="Remove member?"
        confirmLabel="Remove"
        busy={remove.isPending}
        error={remove.error}
        onCancel={() => {
          setRemoving(null);
          remove.reset();
        }}
        onConfirm={() => removing && remove.mutate(removing)}
      >
        <p>
          {removing?.user.email} will lose access to {workspace.name} at once. You can invite them again later.
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
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const revoke = useMutation({
    mutationFn: (invitation: Invitation) =>
      call(
        api.DELETE("/api/v1/workspaces/{workspace_pk}/invitations/{id}/", {
          params: { path: { workspace_pk: workspace.id, id: invitation.id } },
        }),
      ),
    onSuccess: async () => {
      setRevoking(null);
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.invitations(workspace.id) });
    },
  });
  const rows = invitations.data?.results ?? [];

  return (
    <Card title="Pending invitations">
      {invitations.isLoading ? <Loading /> : null}
      <ErrorAlert error={invitations.error} />
      {invitations.isSuccess && rows.length === 0 ? <EmptyState>No pending invitations.</EmptyState> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Invited by</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((invitation) => (
                <tr key={invitation.id}>
                  <td>{invitation.email}</td>
                  <td>
                    <RoleBadge role={invitation.role} />
                  </td>
                  <td>{invitation.invited_by?.full_name || invitation.invited_by?.email || "—"}</td>
                  <td title={formatDateTime(invitation.expires_at)}>{formatRelative(invitation.expires_at)}</td>
                  <td className="actions">
                    <Button
                      variant="danger"
                      onClick={() => setRevoking(invitation)}
                      aria-label={`Revoke invitation for ${invitation.email}`}
                    >
                      Revoke
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke invitation?"
        confirmLabel="Revoke invitation"
        busy={revoke.isPending}
        error={revoke.error}
        onCancel={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      >
        <p>The link sent to {revoking?.email} will stop working.</p>
      </ConfirmDialog>
    </Card>
  );
}
