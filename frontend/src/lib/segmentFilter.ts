/**
 * The segment filter form ⇄ the API's filter JSON (integrations/segments.py FILTER_SCHEMA):
 * {app_id, tags: {any, all, none}, attributes: {name: {equals}}, platform: [...], locale: [...],
 * last_seen_within_days}. Every key is optional; {} is every active subscriber.
 */

export const PLATFORMS = ["android", "ios", "web", "other"] as const;

export interface AttributeRow {
  name: string;
  value: string;
}

export interface FilterForm {
  appId: string;
  tagsAny: string;
  tagsAll: string;
  tagsNone: string;
  platforms: string[];
  locales: string;
  lastSeenDays: string;
  attributes: AttributeRow[];
}

export const EMPTY_FILTER_FORM: FilterForm = {
  appId: "",
  tagsAny: "",
  tagsAll: "",
  tagsNone: "",
  platforms: [],
  locales: "",
  lastSeenDays: "",
  attributes: [],
};

/** "vip, beta ,," → ["vip", "beta"] (unique, in order). */
export function splitList(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

/** An attribute value typed as text: numbers, true/false and null become JSON values. */
export function parseScalar(text: string): string | number | boolean | null {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (trimmed === "null") return null;
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}

export function formToFilter(form: FilterForm): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (form.appId) filter.app_id = form.appId;
  const tags: Record<string, string[]> = {};
  const any = splitList(form.tagsAny);
  const all = splitList(form.tagsAll);
  const none = splitList(form.tagsNone);
  if (any.length) tags.any = any;
  if (all.length) tags.all = all;
  if (none.length) tags.none = none;
  if (Object.keys(tags).length) filter.tags = tags;
  const attributes: Record<string, unknown> = {};
  for (const row of form.attributes) {
    if (row.name.trim()) attributes[row.name.trim()] = { equals: parseScalar(row.value) };
  }
  if (Object.keys(attributes).length) filter.attributes = attributes;
  if (form.platforms.length) filter.platform = PLATFORMS.filter((p) => form.platforms.includes(p));
  const locales = splitList(form.locales);
  if (locales.length) filter.locale = locales;
  if (form.lastSeenDays.trim()) filter.last_seen_within_days = Number(form.lastSeenDays);
  return filter;
}

const asList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : typeof value === "string" ? [value] : [];

/**
 * The form for a stored filter, or null when the filter uses what the form cannot show (attribute
 * `in`/`range`): such a segment is edited as JSON.
 */
export function filterToForm(filter: unknown): FilterForm | null {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) return null;
  const f = filter as Record<string, unknown>;
  const known = new Set(["app_id", "tags", "attributes", "platform", "locale", "last_seen_within_days"]);
  if (Object.keys(f).some((key) => !known.has(key))) return null;
  const tags = (typeof f.tags === "object" && f.tags !== null ? f.tags : {}) as Record<string, unknown>;
  const attributes: AttributeRow[] = [];
  if (f.attributes !== undefined) {
    if (typeof f.attributes !== "object" || f.attributes === null) return null;
    for (const [name, condition] of Object.entries(f.attributes as Record<string, unknown>)) {
      const c = condition as Record<string, unknown> | null;
      if (!c || typeof c !== "object" || !("equals" in c) || Object.keys(c).length !== 1) return null;
      attributes.push({ name, value: c.equals === null ? "null" : String(c.equals) });
    }
  }
  return {
    appId: typeof f.app_id === "string" ? f.app_id : "",
    tagsAny: asList(tags.any).join(", "),
    tagsAll: asList(tags.all).join(", "),
    tagsNone: asList(tags.none).join(", "),
    platforms: asList(f.platform),
    locales: asList(f.locale).join(", "),
    lastSeenDays: typeof f.last_seen_within_days === "number" ? String(f.last_seen_within_days) : "",
    attributes,
  };
}
