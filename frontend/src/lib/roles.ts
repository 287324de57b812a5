/** The role matrix from DESIGN.md "Roles", as far as the dashboard needs it to hide what would be refused. */
import type { Role } from "../api/client";

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export const ROLE_LABELS: Record<Role, string> = {
  owner: "Owner",
  admin: "Admin",
  member: "Member",
  viewer: "Viewer",
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && value in RANK;
}

export function roleAtLeast(role: string | null | undefined, needed: Role): boolean {
  return isRole(role) && RANK[role] >= RANK[needed];
}

/** Members, invitations, API keys and the audit log are for admins and the owner. */
export const canManageTeam = (role: string | null | undefined) => roleAtLeast(role, "admin");
export const isOwner = (role: string | null | undefined) => role === "owner";

/**
 * Roles the actor may give to a member who now has `target`. Nobody changes the owner's role (ownership
 * moves by transfer), and only the owner changes another admin's role. Empty: the actor can't change it.
 */
export function assignableRoles(actor: string | null | undefined, target: Role, isSelf = false): Role[] {
  if (!canManageTeam(actor) || target === "owner") return [];
  if (target === "admin" && actor !== "owner" && !isSelf) return [];
  return ["admin", "member", "viewer"];
}
