import { describe, expect, it } from "vitest";
import { buildRule, DEFAULT_SPEC, describeRule, parseRule, type RuleSpec, toLocalInput, wallClock } from "./rrule";

const spec = (over: Partial<RuleSpec>): RuleSpec => ({ ...DEFAULT_SPEC, ...over });

describe("buildRule", () => {
  it("writes weekly rules with the days in calendar order", () => {
    expect(buildRule(spec({ freq: "WEEKLY", weekdays: ["FR", "MO"] }))).toBe("FREQ=WEEKLY;BYDAY=MO,FR");
    expect(buildRule(spec({ freq: "WEEKLY", weekdays: [] }))).toBe("FREQ=WEEKLY");
  });

  it("adds INTERVAL only above 1 and never a broken one", () => {
    expect(buildRule(spec({ freq: "DAILY", interval: 1 }))).toBe("FREQ=DAILY");
    expect(buildRule(spec({ freq: "DAILY", interval: 3 }))).toBe("FREQ=DAILY;INTERVAL=3");
    expect(buildRule(spec({ freq: "HOURLY", interval: Number.NaN }))).toBe("FREQ=HOURLY");
  });

  it("ends with COUNT or a DATE UNTIL", () => {
    expect(buildRule(spec({ freq: "DAILY", end: "count", count: 5 }))).toBe("FREQ=DAILY;COUNT=5");
    expect(buildRule(spec({ freq: "DAILY", end: "until", until: "2026-12-31" }))).toBe("FREQ=DAILY;UNTIL=20261231");
    expect(buildRule(spec({ freq: "DAILY", end: "until", until: "" }))).toBe("FREQ=DAILY");
  });

  it("writes monthly rules by day or by ordinal weekday", () => {
    expect(buildRule(spec({ freq: "MONTHLY", monthlyMode: "same_day" }))).toBe("FREQ=MONTHLY");
    expect(buildRule(spec({ freq: "MONTHLY", monthlyMode: "month_day", monthDay: -1 }))).toBe("FREQ=MONTHLY;BYMONTHDAY=-1");
    expect(buildRule(spec({ freq: "MONTHLY", monthlyMode: "ordinal_weekday", ordinal: -1, ordinalWeekday: "FR" }))).toBe(
      "FREQ=MONTHLY;BYDAY=-1FR",
    );
  });
});

describe("parseRule", () => {
  it("round-trips what the builder writes", () => {
    const specs: RuleSpec[] = [
      spec({ freq: "WEEKLY", weekdays: ["MO", "WE"], interval: 2, end: "count", count: 8 }),
      spec({ freq: "MONTHLY", weekdays: [], monthlyMode: "ordinal_weekday", ordinal: 2, ordinalWeekday: "TU" }),
      spec({ freq: "DAILY", weekdays: [], end: "until", until: "2027-01-15" }),
    ];
    for (const s of specs) expect(buildRule(parseRule(buildRule(s)) as RuleSpec)).toBe(buildRule(s));
  });

  it("accepts an RRULE: prefix and lower case", () => {
    expect(parseRule("RRULE:freq=daily;interval=2")).toMatchObject({ freq: "DAILY", interval: 2 });
  });

  it("leaves rules the builder cannot show to the text box", () => {
    expect(parseRule("FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=-1")).toBeNull();
    expect(parseRule("FREQ=DAILY;BYHOUR=9,18")).toBeNull();
    expect(parseRule("FREQ=DAILY;UNTIL=20261231T000000Z")).toBeNull();
    expect(parseRule("FREQ=DAILY;COUNT=2;UNTIL=20261231")).toBeNull();
    expect(parseRule("DTSTART:20260101T090000\nRRULE:FREQ=DAILY")).toBeNull();
    expect(parseRule("FREQ=SECONDLY")).toBeNull();
    expect(parseRule("")).toBeNull();
  });
});

describe("describeRule", () => {
  it("says what the rule does", () => {
    expect(describeRule(spec({ freq: "WEEKLY", weekdays: ["MO", "FR"], interval: 2, end: "count", count: 10 }))).toBe(
      "Every 2 weeks on Monday and Friday, 10 times",
    );
    expect(describeRule(spec({ freq: "MONTHLY", monthlyMode: "ordinal_weekday", ordinal: -1, ordinalWeekday: "FR" }))).toBe(
      "Every month on the last Friday",
    );
    expect(describeRule(spec({ freq: "MONTHLY", monthlyMode: "month_day", monthDay: 22 }))).toBe("Every month on the 22nd");
    expect(describeRule(spec({ freq: "DAILY", end: "until", until: "2026-12-31" }))).toBe("Every day, until 2026-12-31");
  });
});

describe("wall-clock values", () => {
  it("converts between datetime-local inputs and the API's local times", () => {
    expect(wallClock("2026-03-29T09:00")).toBe("2026-03-29T09:00:00");
    expect(toLocalInput("2026-03-29T09:00:00+02:00")).toBe("2026-03-29T09:00");
    expect(toLocalInput(null)).toBe("");
  });
});
