import { describe, expect, it } from "vitest";
import { email, isValid, LIMITS, maxLength, RULES, validate } from "./validation";

describe("validation with the API's limits", () => {
  it("accepts a good registration", () => {
    const errors = validate(
      { email: "ana@example.com", password: "Correct-Horse-42", full_name: "Ana" },
      { email: RULES.email, password: RULES.password, full_name: RULES.fullName },
    );
    expect(isValid(errors)).toBe(true);
  });

  it("needs a password of at least 8 characters", () => {
    expect(validate({ password: "short" }, { password: RULES.password }).password).toBe("Use at least 8 characters.");
    expect(validate({ password: "" }, { password: RULES.password }).password).toBe("Enter a password.");
    expect(validate({ password: "x".repeat(LIMITS.passwordMax + 1) }, { password: RULES.password }).password).toMatch(
      /at most 128/,
    );
  });

  it("checks email addresses", () => {
    expect(email("ana@example.com")).toBeNull();
    expect(email("ana@example")).toBe("Enter a valid email address.");
    expect(email("ana example.com")).toBe("Enter a valid email address.");
    expect(validate({ email: "" }, { email: RULES.email }).email).toBe("Enter your email address.");
    const long = `${"a".repeat(250)}@example.com`;
    expect(validate({ email: long }, { email: RULES.email }).email).toMatch(/at most 254/);
  });

  it("limits workspace and key names to 100 characters", () => {
    expect(validate({ name: "x".repeat(100) }, { name: RULES.workspaceName }).name).toBeUndefined();
    expect(validate({ name: "x".repeat(101) }, { name: RULES.workspaceName }).name).toBe(
      "Use at most 100 characters (now 101).",
    );
    expect(validate({ name: "   " }, { name: RULES.apiKeyName }).name).toBe("Give the key a name.");
  });

  it("keeps the first failing rule per field", () => {
    const rules = { a: [maxLength(2), () => "second"] };
    expect(validate({ a: "abc" }, rules).a).toMatch(/at most 2/);
    expect(validate({ a: "ab" }, rules).a).toBe("second");
  });
});
