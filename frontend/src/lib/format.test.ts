import { describe, expect, it } from "vitest";
import { describeMetadata, formatRelative, maskedKey } from "./format";

describe("formatting", () => {
  const now = new Date("2025-03-01T12:00:00Z");

  it("says when something happened relative to now", () => {
    expect(formatRelative(null, now, "en")).toBe("never");
    expect(formatRelative("2025-03-08T12:00:00Z", now, "en")).toBe("in 7 days");
    expect(formatRelative("2025-03-01T09:00:00Z", now, "en")).toBe("3 hours ago");
    expect(formatRelative("2025-03-01T11:59:50Z", now, "en")).toBe("just now");
  });

  it("masks API keys down to their public prefix", () => {
    expect(maskedKey("ab12cd")).toBe("pp_live_ab12cd_••••••••");
  });

  it("shows audit metadata as key: value pairs", () => {
    expect(describeMetadata({ from: "member", to: "admin" })).toBe("from: member, to: admin");
    expect(describeMetadata({ email: "x@example.com", extra: null })).toBe("email: x@example.com");
    expect(describeMetadata({ scopes: ["read", "send"] })).toBe("scopes: read, send");
    expect(describeMetadata(null)).toBe("");
  });
});
