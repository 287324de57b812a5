import { describe, expect, it } from "vitest";
import { withAny } from "./lists";
import { pageParam } from "./useListParams";

describe("withAny", () => {
  it("leads with the no-filter choice and labels plain values with themselves", () => {
    expect(withAny(["sent", "failed"])).toEqual([
      { value: "", label: "Any" },
      { value: "sent", label: "sent" },
      { value: "failed", label: "failed" },
    ]);
  });

  it("keeps only value and label of option objects, under a custom no-filter label", () => {
    const campaign = { value: "c1", label: "Diwali", status: "draft" };
    expect(withAny([campaign], "All campaigns")).toEqual([
      { value: "", label: "All campaigns" },
      { value: "c1", label: "Diwali" },
    ]);
  });
});

describe("pageParam", () => {
  it.each([
    ["", 1],
    ["page=3", 3],
    ["page=0", 1],
    ["page=-2", 1],
    ["page=abc", 1],
  ])("reads %j as page %i", (query, page) => {
    expect(pageParam(new URLSearchParams(query))).toBe(page);
  });
});
