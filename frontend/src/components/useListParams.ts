import { useSearchParams } from "react-router";

/** The page number in a list's URL (`?page=`), 1 when absent or not a number. */
export function pageParam(params: URLSearchParams): number {
  return Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
}

/**
 * A filtered, paginated list whose filters live in the URL (shareable, survive a reload). Changing any
 * filter goes back to page 1; the URL is replaced, not pushed, so Back leaves the list.
 */
export function useListParams() {
  const [params, setParams] = useSearchParams();
  const page = pageParam(params);
  /** Sets the given parameters, removing the empty ones. */
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };
  return {
    params,
    setParams,
    page,
    /** A parameter's value, "" when absent. */
    get: (key: string) => params.get(key) ?? "",
    update,
    goToPage: (next: number) => update({ page: next === 1 ? "" : String(next) }),
  };
}
