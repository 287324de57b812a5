import { describe, expect, it } from "vitest";
import { ApiProblem } from "../api/errors";
import { describeProblem } from "./problems";

describe("describeProblem", () => {
  it("explains a refused transition", () => {
    const problem = new ApiProblem(409, "invalid_transition", "A paused campaign cannot become scheduled. Resume it instead.", {
      current_status: ["paused"],
      requested_status: ["scheduled"],
      allowed: ["cancelled", "completed", "scheduled"],
    });
    expect(describeProblem(problem)).toEqual({
      title: "Not possible right now:",
      message: "A paused campaign cannot become scheduled. Resume it instead.",
      hints: ["The campaign is paused now.", "From here it can become: cancelled, completed, scheduled."],
    });
  });

  it("lists field errors the message does not already say", () => {
    const problem = new ApiProblem(400, "invalid_rrule", "BYDAY: 'XX' is not a weekday.", {
      recurrence_rule: ["BYDAY: 'XX' is not a weekday."],
      part: ["BYDAY"],
      timezone: ["Unknown zone."],
    });
    expect(describeProblem(problem).hints).toEqual(["Rule part: BYDAY.", "timezone: Unknown zone."]);
  });

  it("passes other errors through", () => {
    expect(describeProblem(new Error("boom"))).toEqual({ title: "", message: "boom", hints: [] });
  });
});
