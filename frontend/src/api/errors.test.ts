import { describe, expect, it } from "vitest";
import { ApiProblem, describeError, fieldMessages, isErrorShape, normalizeDetails, parseRetryAfter, toApiProblem } from "./errors";

describe("toApiProblem", () => {
  it("reads the API's error shape", () => {
    const problem = toApiProblem(400, {
      error: {
        code: "validation_error",
        message: "email: Enter a valid email address.",
        details: { email: ["Enter a valid email address."] },
      },
    });
    expect(problem).toBeInstanceOf(ApiProblem);
    expect(problem.status).toBe(400);
    expect(problem.code).toBe("validation_error");
    expect(problem.message).toBe("email: Enter a valid email address.");
    expect(problem.details).toEqual({ email: ["Enter a valid email address."] });
  });

  it("keeps the server's code for non-validation errors", () => {
    const problem = toApiProblem(409, { error: { code: "already_member", message: "Already a member.", details: {} } });
    expect(problem.code).toBe("already_member");
    expect(problem.details).toEqual({});
  });

  it("falls back to a status message for bodies that are not the shape (proxy HTML, empty)", () => {
    expect(toApiProblem(502, "<html>Bad gateway</html>").message).toMatch(/unavailable/);
    expect(toApiProblem(502, "<html>Bad gateway</html>").code).toBe("http_502");
    expect(toApiProblem(418, undefined).message).toBe("The request failed (HTTP 418).");
    expect(toApiProblem(400, { detail: "DRF default shape" }).code).toBe("http_400");
  });

  it("rejects look-alikes without a string code and message", () => {
    expect(isErrorShape({ error: { code: 1, message: "x" } })).toBe(false);
    expect(isErrorShape({ error: "boom" })).toBe(false);
    expect(isErrorShape(null)).toBe(false);
  });
});

describe("normalizeDetails", () => {
  it("flattens nested list-field errors to the top-level field", () => {
    expect(normalizeDetails({ scopes: { "1": ['"admin" is not a valid choice.'] }, name: ["Too long."] })).toEqual({
      scopes: ['"admin" is not a valid choice.'],
      name: ["Too long."],
    });
  });

  it("accepts a bare string and drops empty fields", () => {
    expect(normalizeDetails({ confirm: "Type the slug.", other: [] })).toEqual({ confirm: ["Type the slug."] });
    expect(normalizeDetails(["not", "an", "object"])).toEqual({});
  });
});

describe("fieldMessages", () => {
  it("gives the first message per field and leaves non-field errors to the banner", () => {
    const problem = new ApiProblem(400, "validation_error", "x", {
      password: ["This password is too short.", "This password is too common."],
      non_field_errors: ["Send exactly one."],
    });
    expect(fieldMessages(problem)).toEqual({ password: "This password is too short." });
  });

  it("is empty for anything that is not an ApiProblem", () => {
    expect(fieldMessages(new Error("x"))).toEqual({});
    expect(fieldMessages(null)).toEqual({});
  });
});

describe("describeError", () => {
  it("prefers the API message", () => {
    expect(describeError(new ApiProblem(403, "permission_denied", "Your role (viewer) cannot do this."))).toBe(
      "Your role (viewer) cannot do this.",
    );
    expect(describeError("weird")).toBe("Something went wrong.");
  });
});

describe("parseRetryAfter", () => {
  const now = new Date("2026-11-21T10:00:00Z");
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("30", now)).toBe(30);
    expect(parseRetryAfter("Sat, 21 Nov 2026 10:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Sat, 21 Nov 2026 09:00:00 GMT", now)).toBe(0);
  });
  it("ignores what is not there or not readable", () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
  });
  it("travels on the problem", () => {
    const problem = toApiProblem(429, { error: { code: "ai_rate_limited", message: "Slow down.", details: {} } }, 12);
    expect(problem.retryAfter).toBe(12);
    expect(toApiProblem(429, "").retryAfter).toBeNull();
  });
});
