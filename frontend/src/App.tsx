import type { ReactNode } from "react";
import { Navigate, Outlet, Route, Routes, useLocation } from "react-router";
import { Layout } from "./components/Layout";
import { ErrorAlert, Loading, PageHeader } from "./components/ui";
import { AcceptInvitationPage } from "./pages/AcceptInvitation";
import { ApiKeysPage } from "./pages/ApiKeys";
import { AuditLogPage } from "./pages/AuditLog";
import { MembersPage } from "./pages/Members";
import { RegisterPage, SignInPage } from "./pages/Auth";
import { SettingsPage } from "./pages/Settings";
import { WorkspacesPage } from "./pages/Workspaces";
import { useSession } from "./state/session";
import { useCurrentWorkspace } from "./state/workspace";

function RequireAuth({ children }: { children: ReactNode }) {
  const { tokens, user, userError } = useSession();
  const location = useLocation();
  if (!tokens) {
    const next = location.pathname + location.search;
    return <Navigate to={next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  if (!user) {
    return userError ? (
      <div className="centered">
        <ErrorAlert error={userError} />
      </div>
    ) : (
      <div className="centered">
        <Loading />
      </div>
    );
  }
  return <>{children}</>;
}

function PublicOnly({ children }: { children: ReactNode }) {
  const { tokens } = useSession();
  return tokens ? <Navigate to="/" replace /> : <>{children}</>;
}

/** Pages of the selected workspace; without one, the workspace list is where to start. */
function RequireWorkspace() {
  const { workspace, isLoading, error } = useCurrentWorkspace();
  if (isLoading) return <Loading />;
  if (error) return <ErrorAlert error={error} />;
  if (!workspace) return <Navigate to="/workspaces" replace />;
  return <Outlet />;
}

function Home() {
  const { workspace, isLoading } = useCurrentWorkspace();
  if (isLoading) return <Loading />;
  return <Navigate to={workspace ? "/members" : "/workspaces"} replace />;
}

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" description="There is nothing at this address." />
    </>
  );
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<PublicOnly><SignInPage /></PublicOnly>} />
      <Route path="/register" element={<PublicOnly><RegisterPage /></PublicOnly>} />
      <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
      <Route element={<RequireAuth><Layout /></RequireAuth>}>
        <Route index element={<Home />} />
        <Route path="workspaces" element={<WorkspacesPage />} />
        <Route element={<RequireWorkspace />}>
          <Route path="members" element={<MembersPage />} />
          <Route path="api-keys" element={<ApiKeysPage />} />
          <Route path="audit-log" element={<AuditLogPage />} />
          <Route path="settings" element={<SettingsPage />} />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
