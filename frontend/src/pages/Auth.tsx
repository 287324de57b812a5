import { useMutation } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { fieldMessages } from "../api/errors";
import { AuthForm, AuthShell } from "../components/AuthShell";
import { ErrorAlert, Field } from "../components/ui";
import { useForm } from "../components/useForm";
import { safeNext } from "../lib/navigation";
import { LIMITS, RULES } from "../lib/validation";
import { useSession } from "../state/session";

export function SignInPage() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const form = useForm({ email: "", password: "" }, { email: RULES.email, password: RULES.signInPassword });
  const login = useMutation({
    mutationFn: (body: { email: string; password: string }) => call(api.POST("/api/v1/auth/login/", { body })),
    onSuccess: (tokens) => {
      signIn(tokens);
      navigate(safeNext(params.get("next")), { replace: true });
    },
  });
  const server = fieldMessages(login.error);
  const registerLink = params.get("next") ? `/register?next=${encodeURIComponent(params.get("next") ?? "")}` : "/register";

  return (
    <AuthShell title="Sign in" subtitle="Welcome back to your push campaigns.">
      <AuthForm
        onSubmit={form.handleSubmit((v) => login.mutate({ email: v.email.trim(), password: v.password }))}
        submitLabel="Sign in"
        busy={login.isPending}
      >
        <ErrorAlert error={login.error} />
        <Field label="Email" type="email" autoComplete="email" required {...form.field("email", server)} />
        <Field label="Password" type="password" autoComplete="current-password" required {...form.field("password", server)} />
      </AuthForm>
      <p className="auth-switch">
        New to PushPilot? <Link to={registerLink}>Create an account</Link>
      </p>
    </AuthShell>
  );
}

export function RegisterPage() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const form = useForm(
    { full_name: "", email: "", password: "" },
    { full_name: RULES.fullName, email: RULES.email, password: RULES.password },
  );
  const register = useMutation({
    mutationFn: (body: { email: string; password: string; full_name: string }) =>
      call(api.POST("/api/v1/auth/register/", { body })),
    onSuccess: (result) => {
      signIn({ access: result.access, refresh: result.refresh });
      navigate(safeNext(params.get("next"), "/workspaces"), { replace: true });
    },
  });
  const server = fieldMessages(register.error);

  return (
    <AuthShell title="Create your account" subtitle="Then create a workspace for your team.">
      <AuthForm
        onSubmit={form.handleSubmit((v) => register.mutate({ email: v.email.trim(), password: v.password, full_name: v.full_name.trim() }))}
        submitLabel="Create account"
        busy={register.isPending}
      >
        <ErrorAlert error={register.error} />
        <Field label="Full name" autoComplete="name" {...form.field("full_name", server)} />
        <Field label="Email" type="email" autoComplete="email" required {...form.field("email", server)} />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          hint={`At least ${LIMITS.passwordMin} characters; not a common password.`}
          {...form.field("password", server)}
        />
      </AuthForm>
      <p className="auth-switch">
        Already have an account? <Link to="/signin">Sign in</Link>
      </p>
    </AuthShell>
  );
}
