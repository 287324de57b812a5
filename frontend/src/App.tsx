import type { ReactNode } from "react";
import { Navigate, Outlet, Route, Routes, useLocation } from "react-router";
import { Layout } from "./components/Layout";
import { ErrorAlert, Loading, PageHeader } from "./components/ui";
import { AcceptInvitationPage } from "./pages/AcceptInvitation";
import { ApiKeysPage } from "./pages/ApiKeys";
import { AppsPage } from "./pages/Apps";
import { AuditLogPage } from "./pages/AuditLog";
import { CampaignAnalyticsPage } from "./pages/CampaignAnalytics";
import { CampaignEditorPage } from "./pages/CampaignEditor";
import { CampaignsPage } from "./pages/Campaigns";
import { NotificationDetailPage } from "./pages/NotificationDetail";
import { NotificationsPage } from "./pages/Notifications";
import { OverviewPage } from "./pages/Overview";
import { SegmentsPage } from "./pages/Segments";
import { SubscribersPage } from "./pages/Subscribers";
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
  return <Navigate to={workspace ? "/overview" : "/workspaces"} replace />;
}

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" description="There is nothing at this address." />
    </>
  );
}

/**
 * Pages of the selected workspace. A new area adds its routes here (and its entry in Layout's NAV);
 * nothing else needs to change.
 */
const WORKSPACE_ROUTES: { path: string; element: ReactNode }[] = [
  { path: "overview", element: <OverviewPage /> },
  { path: "campaigns", element: <CampaignsPage /> },
  { path: "campaigns/:id", element: <CampaignEditorPage /> },
  { path: "campaigns/:id/analytics", element: <CampaignAnalyticsPage /> },
  { path: "notifications", element: <NotificationsPage /> },
  { path: "notifications/:id", element: <NotificationDetailPage /> },
  { path: "subscribers", element: <SubscribersPage /> },
  { path: "segments", element: <SegmentsPage /> },
  { path: "apps", element: <AppsPage /> },
  { path: "members", element: <MembersPage /> },
  { path: "api-keys", element: <ApiKeysPage /> },
  { path: "audit-log", element: <AuditLogPage /> },
  { path: "settings", element: <SettingsPage /> },
];

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
          {WORKSPACE_ROUTES.map(({ path, element }) => (
            <Route key={path} path={path} element={element} />
          ))}
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
