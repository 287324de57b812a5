import { describe, expect, it } from "vitest";
import { EMPTY_FILTER_FORM, filterToForm, formToFilter, parseScalar, splitList } from "./segmentFilter";

describe("segment filter form", () => {
  it("builds the API's filter, leaving out empty parts", () => {
    expect(formToFilter(EMPTY_FILTER_FORM)).toEqual({});
    expect(
      formToFilter({
        ...EMPTY_FILTER_FORM,
        tagsAny: "vip, beta,,vip",
        tagsNone: "churned",
        platforms: ["web", "android"],
        locales: "de, en-GB",
        lastSeenDays: "30",
        attributes: [
          { name: "plan", value: "pro" },
          { name: "age", value: "42" },
          { name: " ", value: "ignored" },
        ],
      }),
    ).toEqual({
      tags: { any: ["vip", "beta"], none: ["churned"] },
      attributes: { plan: { equals: "pro" }, age: { equals: 42 } },
      platform: ["android", "web"],
      locale: ["de", "en-GB"],
      last_seen_within_days: 30,
    });
  });

  it("reads a stored filter back, or says it needs the JSON editor", () => {
    const filter = { tags: { all: ["a"] }, platform: "ios", attributes: { vip: { equals: true } } };
    expect(filterToForm(filter)).toMatchObject({ tagsAll: "a", platforms: ["ios"], attributes: [{ name: "vip", value: "true" }] });
    expect(formToFilter(filterToForm(filter)!)).toEqual({ ...filter, platform: ["ios"] });
    expect(filterToForm({ attributes: { age: { range: { gte: 18 } } } })).toBeNull();
    expect(filterToForm({ unknown: 1 })).toBeNull();
  });

  it("types attribute values", () => {
    expect([parseScalar("true"), parseScalar("12.5"), parseScalar("null"), parseScalar("DE")]).toEqual([true, 12.5, null, "DE"]);
    expect(splitList(" a ,b,a")).toEqual(["a", "b"]);
  });
});
