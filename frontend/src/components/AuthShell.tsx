import { type FormEventHandler, type ReactNode, useEffect } from "react";
import { Button } from "./ui";

/** The centred card for pages outside the dashboard: sign in, register, accept an invitation. */
export function AuthShell({ title, subtitle, children }: { title: string; subtitle?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · PushPilot`;
  }, [title]);
  return (
    <main id="main" className="auth-shell">
      <div className="auth-card">
        <p className="brand brand-large">
          <span className="brand-mark" aria-hidden="true">
            ●
          </span>
          PushPilot
        </p>
        <h1>{title}</h1>
        {subtitle ? <p className="muted">{subtitle}</p> : null}
        {children}
      </div>
    </main>
  );
}

/** A form of the auth pages: its fields, then one full-width submit button. */
export function AuthForm({
  onSubmit,
  submitLabel,
  busy,
  children,
}: {
  onSubmit: FormEventHandler<HTMLFormElement>;
  submitLabel: string;
  busy: boolean;
  children: ReactNode;
}) {
  return (
    <form noValidate onSubmit={onSubmit}>
      {children}
      <Button type="submit" variant="primary" className="btn-block" busy={busy}>
        {submitLabel}
      </Button>
    </form>
  );
}
