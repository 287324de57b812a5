/** The one layout: top bar (brand, workspace switcher, account), side navigation, main content. */
import { Fragment } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { canManageTeam } from "../lib/roles";
import { useSession } from "../state/session";
import { selectWorkspace, useCurrentWorkspace } from "../state/workspace";
import { Button, RoleBadge } from "./ui";

const WORKSPACE_SECTION = "workspace";

interface NavEntry {
  to: string;
  label: string;
  /** Hide the link from roles that cannot use the page (the API refuses them anyway). */
  visible?: (role: string | null | undefined) => boolean;
}

/** The workspace navigation, by section. A new area (analytics, AI…) adds a section or a link here. */
const NAV: { title: string; links: NavEntry[] }[] = [
  {
    // Shown with the workspace's name as its heading.
    title: WORKSPACE_SECTION,
    links: [
      { to: "/overview", label: "Overview" },
      { to: "/campaigns", label: "Campaigns" },
      { to: "/notifications", label: "Notifications" },
    ],
  },
  {
    title: "Audience",
    links: [
      { to: "/subscribers", label: "Subscribers" },
      { to: "/segments", label: "Segments" },
      { to: "/apps", label: "Apps" },
    ],
  },
  {
    title: "Team",
    links: [
      { to: "/members", label: "Members" },
      { to: "/api-keys", label: "API keys", visible: canManageTeam },
      { to: "/audit-log", label: "Audit log", visible: canManageTeam },
      { to: "/settings", label: "Settings" },
    ],
  },
];

export function Layout() {
  const { user, signOut } = useSession();
  const { workspace, workspaces } = useCurrentWorkspace();
  const navigate = useNavigate();

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
            {workspace
              ? NAV.map((section) => {
                  const links = section.links.filter((link) => !link.visible || link.visible(workspace.role));
                  if (links.length === 0) return null;
                  return (
                    <Fragment key={section.title}>
                      <li className="nav-section" aria-hidden="true">
                        {section.title === WORKSPACE_SECTION ? workspace.name : section.title}
                      </li>
                      {links.map((link) => (
                        <li key={link.to}>
                          <NavLink to={link.to}>{link.label}</NavLink>
                        </li>
                      ))}
                    </Fragment>
                  );
                })
              : null}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
