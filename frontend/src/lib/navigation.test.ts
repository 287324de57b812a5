import { describe, expect, it } from "vitest";
import { safeNext } from "./navigation";

describe("safeNext", () => {
  it("keeps local paths", () => {
    expect(safeNext("/api-keys")).toBe("/api-keys");
    expect(safeNext("/invitations/accept?token=abc")).toBe("/invitations/accept?token=abc");
  });

  it("refuses other origins and loops back to the sign-in page", () => {
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext("/signin?next=/x")).toBe("/");
    expect(safeNext(null, "/workspaces")).toBe("/workspaces");
  });
});
