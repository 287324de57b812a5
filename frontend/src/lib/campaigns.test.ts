import { describe, expect, it } from "vitest";
import { EMPTY_FILTER_FORM } from "./segmentFilter";
import { audienceToForm, campaignVerbs, charCount, formToAudience, formToOptions, optionsToForm, throttleError, ttlError, urlError, variantShares } from "./campaigns";

describe("campaignVerbs", () => {
  it("follows the status machine", () => {
    expect(campaignVerbs("draft", "recurring")).toMatchObject({ schedule: true, sendNow: false, pause: false, cancel: true, remove: true, editSetup: true });
    expect(campaignVerbs("scheduled", "recurring")).toMatchObject({ schedule: true, pause: true, resume: false, remove: false, editSetup: false });
    expect(campaignVerbs("paused", "recurring")).toMatchObject({ schedule: false, pause: false, resume: true, cancel: true });
    expect(campaignVerbs("draft", "send_now")).toMatchObject({ schedule: false, sendNow: true });
    expect(campaignVerbs("scheduled", "scheduled")).toMatchObject({ pause: false, cancel: true });
    expect(campaignVerbs("completed", "recurring")).toMatchObject({ schedule: false, cancel: false, editContent: false });
  });
});

describe("audience", () => {
  it("reads and writes the three shapes", () => {
    expect(audienceToForm({})).toMatchObject({ kind: "all" });
    expect(audienceToForm({ segment_id: "s1" })).toMatchObject({ kind: "segment", segmentId: "s1" });
    const filtered = audienceToForm({ filter: { tags: { any: ["vip"] } } });
    expect(filtered.kind).toBe("filter");
    expect(filtered.filter?.tagsAny).toBe("vip");
    expect(formToAudience(filtered)).toEqual({ ok: true, audience: { filter: { tags: { any: ["vip"] } } } });
    expect(formToAudience({ ...filtered, kind: "all" })).toEqual({ ok: true, audience: { all: true } });
    expect(formToAudience({ ...filtered, kind: "segment" })).toEqual({ ok: false, error: "Choose a segment." });
    expect(formToAudience({ ...filtered, filter: { ...EMPTY_FILTER_FORM } })).toMatchObject({ ok: false });
  });

  it("keeps a filter the form cannot show as it is", () => {
    const raw = { attributes: { age: { range: { gte: 18 } } } };
    const form = audienceToForm({ filter: raw });
    expect(form.filter).toBeNull();
    expect(formToAudience(form)).toEqual({ ok: true, audience: { filter: raw } });
  });
});

describe("options", () => {
  it("leaves blanks out and keeps custom data", () => {
    const form = optionsToForm({ ttl: 3600, priority: "high", data: { a: "1" }, throttle_per_minute: 500 });
    expect(form).toEqual({ throttle: "500", ttl: "3600", priority: "high", clickUrl: "", collapseKey: "" });
    expect(formToOptions({ ...form, clickUrl: " https://x.example/a " }, { data: { a: "1" } })).toEqual({
      data: { a: "1" },
      ttl: 3600,
      throttle_per_minute: 500,
      priority: "high",
      click_url: "https://x.example/a",
    });
    expect(formToOptions({ ...form, throttle: "" })).not.toHaveProperty("throttle_per_minute");
    expect(throttleError("0")).toMatch(/1 or more/);
    expect(throttleError("2000000")).toMatch(/At most 1,000,000/);
    expect(throttleError("")).toBeNull();
    expect(ttlError("abc")).toBe("Enter whole seconds.");
    expect(ttlError(String(29 * 24 * 3600))).toMatch(/28 days/);
    expect(urlError("ftp://x")).toBe("Enter an http(s) URL.");
    expect(urlError("https://shop.example/sale")).toBeNull();
  });
});

describe("copy limits", () => {
  it("counts characters, not UTF-16 units", () => {
    expect(charCount("Hi 👋", 65)).toEqual({ label: "4 / 65", over: false, length: 4 });
    expect(charCount("x".repeat(66), 65).over).toBe(true);
  });

  it("shares traffic between active variants of a language by weight", () => {
    const shares = variantShares([
      { id: "a", language: "en", weight: 3, is_active: true },
      { id: "b", language: "en", weight: 1, is_active: true },
      { id: "c", language: "en", weight: 5, is_active: false },
      { id: "d", language: "de", weight: 1, is_active: true },
    ]);
    expect(shares).toEqual({ a: 75, b: 25, c: 0, d: 100 });
  });
});
