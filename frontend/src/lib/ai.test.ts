import { describe, expect, it } from "vitest";
import { ApiProblem } from "../api/errors";
import { checkTone, describeAiError, describeQuota, describeStoredKey, describeWait, formatDay, quotaLeft, resetDay, wholeNumberError } from "./ai";

describe("AI request checks", () => {
  it("accepts a tone of a few words the way the API stores it", () => {
    expect(checkTone("  Warm   and-Witty ")).toEqual({ tone: "warm and-witty", error: null });
    expect(checkTone("fröhlich").error).toBeNull();
    expect(checkTone("").error).toMatch(/Type a tone/);
    expect(checkTone("1st place").error).toMatch(/letters/);
    expect(checkTone("ignore; previous").error).toMatch(/letters/);
    expect(checkTone("a".repeat(31)).error).toMatch(/30/);
  });

  it("checks whole numbers in range", () => {
    expect(wholeNumberError("3", 1, 5)).toBeNull();
    expect(wholeNumberError("6", 1, 5)).toBe("A whole number from 1 to 5.");
    expect(wholeNumberError("2.5", 1, 5)).toBe("A whole number from 1 to 5.");
  });
});

describe("quota wording", () => {
  // resets_at as DRF writes it (UTC): the evening before in India; the period says which month it is.
  const quota = { used: 3, limit: 100, period: "2026-11", resets_at: "2026-11-30T18:30:00Z" };

  it("says what is used, what is left and when it resets", () => {
    expect(describeQuota(quota, "en-GB")).toMatch(/^3 of 100 AI generations used this month — 97 left; resets on 1 December 2026\.$/);
    expect(quotaLeft(quota)).toBe(97);
    expect(resetDay("2026-12", undefined)).toBe("2027-01-01");
    expect(resetDay(undefined, "2026-12-01T00:00:00+05:30")).toBe("2026-12-01T00:00:00+05:30");
    expect(formatDay("2026-12-01T00:00:00+05:30", "en-GB")).toBe("1 December 2026");
  });

  it("says when it is used up, and when there is no limit", () => {
    expect(describeQuota({ ...quota, used: 100 }, "en-GB")).toMatch(/^All 100 AI generations of this month are used; the quota resets on /);
    expect(describeQuota({ ...quota, limit: null, used: 1 }, "en")).toBe("Unlimited AI generations on your plan (1 generation this month).");
    expect(quotaLeft({ ...quota, limit: null })).toBeNull();
  });

  it("words waits", () => {
    expect(describeWait(1)).toBe("1 second");
    expect(describeWait(30)).toBe("30 seconds");
    expect(describeWait(61)).toBe("2 minutes");
    expect(describeWait(3 * 3600)).toBe("about 3 hours");
    expect(describeWait(9 * 86_400)).toBe("9 days");
  });

  it("masks the stored key down to its last four characters", () => {
    expect(describeStoredKey(true, "1234")).toBe("key set ••••1234");
    expect(describeStoredKey(false, null)).toBe("no key");
  });
});

describe("AI errors in plain words", () => {
  it("points to the settings when no provider is configured", () => {
    const view = describeAiError(new ApiProblem(503, "ai_not_configured", "No AI provider is configured: set OPENAI_API_KEY…"));
    expect(view?.message).toBe("No AI provider is configured — an owner/admin can set one in Settings → AI.");
    expect(view?.settingsLink).toBe(true);
  });

  it("says when the quota resets", () => {
    const view = describeAiError(
      new ApiProblem(429, "ai_quota_exceeded", "Used up.", { resets_at: ["2026-12-01T00:00:00+05:30"], period: ["2026-11"], plan: ["free"] }, 86_400),
      "en-GB",
    );
    expect(view?.message).toBe("This workspace has used all its AI generations for this month. The quota resets on 1 December 2026.");
  });

  it("passes on the provider's Retry-After", () => {
    expect(describeAiError(new ApiProblem(429, "ai_rate_limited", "429 from upstream", {}, 20))?.message).toBe(
      "It asked us to slow down: try again in 20 seconds.",
    );
    expect(describeAiError(new ApiProblem(429, "ai_rate_limited", "429", {}, null))?.message).toMatch(/in a moment/);
  });

  it("shows the reason of upstream and validation failures", () => {
    expect(describeAiError(new ApiProblem(502, "ai_upstream_error", "The provider timed out after 20 s.", { reason: ["timeout"] }))).toEqual({
      title: "The AI provider failed.",
      message: "The provider timed out after 20 s.",
      hints: [],
      settingsLink: false,
    });
    const invalid = describeAiError(
      new ApiProblem(502, "ai_invalid_output", "The model's copy failed validation twice: Variant 1: title is 80 characters", {
        problems: ["title_too_long", "Variant 1: title is 80 characters", "title", "body_empty", "Variant 2: body is empty", "body"],
      }),
    );
    expect(invalid?.hints).toEqual(["Variant 2: body is empty"]);
  });

  it("leaves other errors alone", () => {
    expect(describeAiError(new ApiProblem(400, "validation_error", "prompt: required"))).toBeNull();
    expect(describeAiError(new Error("x"))).toBeNull();
  });
});
