/** The pieces every list page shares: its filter bar, its loading/error/empty states and its table. */
import type { ReactNode } from "react";
import { EmptyState, ErrorAlert, Loading, SelectField } from "./ui";
import type { useListParams } from "./useListParams";

type Option = { value: string; label: string };

/** Select options led by the "no filter" choice; plain strings are their own label. */
export function withAny(items: readonly (string | Option)[], anyLabel = "Any"): Option[] {
  return [{ value: "", label: anyLabel }, ...items.map((item) => (typeof item === "string" ? { value: item, label: item } : { value: item.value, label: item.label }))];
}

/** The filters above a list: they apply as they change, so the form never submits. */
export function FilterBar({ label, search = false, children }: { label: string; search?: boolean; children: ReactNode }) {
  return (
    <form className="inline-form filters" role={search ? "search" : undefined} aria-label={label} onSubmit={(event) => event.preventDefault()}>
      {children}
    </form>
  );
}

/** A filter select bound to the URL parameter of its own name (see useListParams). */
export function ParamSelect({
  list,
  name,
  label,
  options,
  className,
}: {
  list: Pick<ReturnType<typeof useListParams>, "get" | "update">;
  name: string;
  label: string;
  options: readonly Option[];
  className?: string;
}) {
  return (
    <SelectField label={label} name={name} className={className} value={list.get(name)} onValueChange={(value) => list.update({ [name]: value })} options={options} />
  );
}

/** A list query's spinner, error, and (once loaded with no rows) its empty message. */
export function QueryStatus({
  query,
  isEmpty,
  empty,
}: {
  query: { isLoading: boolean; isSuccess: boolean; error: unknown };
  isEmpty: boolean;
  empty: ReactNode;
}) {
  return (
    <>
      {query.isLoading ? <Loading /> : null}
      <ErrorAlert error={query.error} />
      {query.isSuccess && isEmpty ? <EmptyState>{empty}</EmptyState> : null}
    </>
  );
}

/**
 * A scrollable table of rows (nothing when there are none). `caption` is for screen readers;
 * `actions` adds a last column, unlabelled on screen, for each row's buttons.
 */
export function DataTable<T>({
  caption,
  className,
  columns,
  actions = false,
  rows,
  row,
}: {
  caption?: string;
  className?: string;
  columns: readonly string[];
  actions?: boolean;
  rows: readonly T[];
  /** One <tr> (with its key) per item. */
  row: (item: T) => ReactNode;
}) {
  if (rows.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className={className}>
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
            {actions ? (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{rows.map((item) => row(item))}</tbody>
      </table>
    </div>
  );
}
