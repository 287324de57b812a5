import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { ApiProblem, fieldMessages } from "../api/errors";
import { AuthForm, AuthShell } from "../components/AuthShell";
import { Button, ErrorAlert, Field } from "../components/ui";
import { useForm } from "../components/useForm";
import { LIMITS, RULES } from "../lib/validation";
import { useSession } from "../state/session";
import { selectWorkspace, workspaceKeys } from "../state/workspace";

/**
 * /invitations/accept?token=… — the link in the invitation email. Signed in: accept as yourself (the
 * email must match). Signed out: the API creates the account with the password given, or, when an
 * account exists for the invited email, checks that it is its password.
 */
export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { tokens, user, signIn, signOut } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const form = useForm({ full_name: "", password: "" }, { full_name: RULES.fullName, password: RULES.password });

  const accept = useMutation({
    mutationFn: (body: { token: string; password?: string; full_name?: string }) =>
      call(api.POST("/api/v1/invitations/accept/", { body })),
    onSuccess: async (result) => {
      if (result.access && result.refresh) signIn({ access: result.access, refresh: result.refresh });
      selectWorkspace(result.workspace.id);
      await queryClient.invalidateQueries({ queryKey: workspaceKeys.all });
      navigate("/members", { replace: true });
    },
  });
  const server = fieldMessages(accept.error);
  // invitation_* codes (invalid, expired, revoked, accepted) mean the link itself is dead.
  const deadLink = accept.error instanceof ApiProblem && accept.error.code.startsWith("invitation_") &&
    accept.error.code !== "invitation_email_mismatch";

  if (!token) {
    return (
      <AuthShell title="Invitation link incomplete">
        <p>This link has no invitation token. Open the link from the invitation email again, or ask for a new invitation.</p>
        <p className="auth-switch">
          <Link to="/">Go to PushPilot</Link>
        </p>
      </AuthShell>
    );
  }

  if (tokens) {
    return (
      <AuthShell title="Join the workspace" subtitle={user ? `You are signed in as ${user.email}.` : undefined}>
        <ErrorAlert error={accept.error} />
        {deadLink ? null : (
          <Button variant="primary" className="btn-block" busy={accept.isPending} onClick={() => accept.mutate({ token })}>
            Accept invitation
          </Button>
        )}
        <p className="auth-switch">
          Invitation for another address?{" "}
          <button type="button" className="link-button" onClick={() => void signOut()}>
            Sign out
          </button>{" "}
          and open the link again.
        </p>
      </AuthShell>
    );
  }

  return (
    <AuthShell title="Join the workspace" subtitle="You have been invited to a PushPilot workspace.">
      <ErrorAlert error={Object.keys(server).length ? null : accept.error} />
      {deadLink ? (
        <p className="auth-switch">
          Ask the person who invited you for a new invitation, or <Link to="/signin">sign in</Link>.
        </p>
      ) : (
        <AuthForm
          onSubmit={form.handleSubmit((v) => accept.mutate({ token, password: v.password, full_name: v.full_name.trim() }))}
          submitLabel="Accept invitation"
          busy={accept.isPending}
        >
          <Field label="Full name" autoComplete="name" {...form.field("full_name", server)} />
          <Field
            label="Password"
            type="password"
            autoComplete="new-password"
            hint={`New here? Choose a password (at least ${LIMITS.passwordMin} characters). Already have an account for the invited email? Enter its password.`}
            {...form.field("password", server)}
          />
        </AuthForm>
      )}
      <p className="auth-switch">
        Already signed up? <Link to={`/signin?next=${encodeURIComponent(`/invitations/accept?token=${token}`)}`}>Sign in</Link>{" "}
        first to accept with your account.
      </p>
    </AuthShell>
  );
}
