import { describe, expect, it } from "vitest";
import { assignableRoles, canManageTeam, roleAtLeast } from "./roles";

describe("role matrix", () => {
  it("ranks roles", () => {
    expect(roleAtLeast("owner", "admin")).toBe(true);
    expect(roleAtLeast("member", "admin")).toBe(false);
    expect(roleAtLeast("nonsense", "viewer")).toBe(false);
    expect(roleAtLeast(null, "viewer")).toBe(false);
  });

  it("lets owners and admins manage the team", () => {
    expect(["owner", "admin", "member", "viewer"].map(canManageTeam)).toEqual([true, true, false, false]);
  });

  it("never offers to change the owner's role", () => {
    expect(assignableRoles("owner", "owner")).toEqual([]);
    expect(assignableRoles("admin", "owner")).toEqual([]);
  });

  it("lets only the owner change another admin", () => {
    expect(assignableRoles("owner", "admin")).toEqual(["admin", "member", "viewer"]);
    expect(assignableRoles("admin", "admin")).toEqual([]);
    expect(assignableRoles("admin", "admin", true)).toEqual(["admin", "member", "viewer"]);
    expect(assignableRoles("admin", "viewer")).toEqual(["admin", "member", "viewer"]);
    expect(assignableRoles("member", "viewer")).toEqual([]);
  });
});
