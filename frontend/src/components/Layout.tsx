/** The one layout: top bar (brand, workspace switcher, account), side navigation, main content. */
import { NavLink, Outlet, useNavigate } from "react-router";
import { canManageTeam } from "../lib/roles";
import { useSession } from "../state/session";
import { selectWorkspace, useCurrentWorkspace } from "../state/workspace";
import { Button, RoleBadge } from "./ui";

export function Layout() {
  const { user, signOut } = useSession();
  const { workspace, workspaces } = useCurrentWorkspace();
  const navigate = useNavigate();
  const admin = canManageTeam(workspace?.role);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="PushPilot home">
          <span className="brand-mark" aria-hidden="true">
            ●
          </span>
          PushPilot
        </NavLink>
        {workspaces.length > 0 ? (
          <div className="switcher">
            <label htmlFor="workspace-switcher">Workspace</label>
            <select
              id="workspace-switcher"
              value={workspace?.id ?? ""}
              onChange={(event) => selectWorkspace(event.target.value)}
            >
              {workspaces.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
            <RoleBadge role={workspace?.role} />
          </div>
        ) : null}
        <div className="account">
          <span className="account-email" title={user?.email}>
            {user?.full_name || user?.email}
          </span>
          <Button
            variant="ghost"
            onClick={() => {
              void signOut().then(() => navigate("/signin"));
            }}
          >
            Sign out
          </Button>
        </div>
      </header>
      <div className="shell">
        <nav className="sidebar" aria-label="Main">
          <ul>
            <li>
              <NavLink to="/workspaces" end>
                Workspaces
              </NavLink>
            </li>
            {workspace ? (
              <>
                <li className="nav-section" aria-hidden="true">
                  {workspace.name}
                </li>
                <li>
                  <NavLink to="/members">Members</NavLink>
                </li>
                {admin ? (
                  <>
                    <li>
                      <NavLink to="/api-keys">API keys</NavLink>
                    </li>
                    <li>
                      <NavLink to="/audit-log">Audit log</NavLink>
                    </li>
                  </>
                ) : null}
                <li>
                  <NavLink to="/settings">Settings</NavLink>
                </li>
              </>
            ) : null}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
