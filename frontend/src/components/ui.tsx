/** The small set of shared components: page header, fields, buttons, alerts, dialog, copy button. */
import {
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useEffect,
  useId,
  useRef,
  useState,
} from "react";
import { describeError } from "../api/errors";
import { describeProblem } from "../lib/problems";

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · PushPilot`;
    // After client-side navigation, move focus to the new page's heading so screen readers announce it.
    if (document.activeElement === document.body || document.activeElement?.closest("nav")) {
      heading.current?.focus({ preventScroll: true });
    }
  }, [title]);
  return (
    <header className="page-header">
      <div>
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {description ? <p className="muted">{description}</p> : null}
      </div>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

/** What a text input and a text area share: a label, a string value, an error, a hint, a length limit. */
type TextControlProps = {
  label: string;
  name: string;
  value: string;
  onValueChange: (value: string) => void;
  error?: string | undefined;
  hint?: ReactNode;
  /** Shows a live "n / limit" counter (characters, as the API counts them), red when over: the API refuses longer text. */
  limit?: number;
};

/** Ids and ARIA wiring of a text control: the hint, the counter and the error describe it, in that order. */
function useTextControl({ name, id, value, hint, limit, error }: Pick<TextControlProps, "name" | "value" | "hint" | "limit" | "error"> & { id?: string | undefined }) {
  const autoId = useId();
  const inputId = id ?? `${name}-${autoId}`;
  const ids = {
    hint: hint ? `${inputId}-hint` : undefined,
    count: limit !== undefined ? `${inputId}-count` : undefined,
    error: error ? `${inputId}-error` : undefined,
  };
  const length = [...value].length;
  const over = limit !== undefined && length > limit;
  const control = {
    id: inputId,
    name,
    value,
    "aria-invalid": error || over ? true : undefined,
    "aria-describedby": [ids.hint, ids.count, ids.error].filter(Boolean).join(" ") || undefined,
  };
  return { ids, length, over, control };
}

function Hint({ id, hint }: { id: string | undefined; hint: ReactNode }) {
  return (
    <p id={id} className="hint">
      {hint}
    </p>
  );
}

function LengthCounter({ id, name, length, limit, over }: { id: string | undefined; name: string; length: number; limit: number; over: boolean }) {
  return (
    <p id={id} className={`counter ${over ? "counter-over" : ""}`} data-testid={`${name}-counter`}>
      {length} / {limit}
      {over ? <span className="visually-hidden"> characters: too long</span> : null}
    </p>
  );
}

function FieldError({ id, error }: { id: string | undefined; error: string | undefined }) {
  if (!error) return null;
  return (
    <p id={id} className="field-error">
      {error}
    </p>
  );
}

type FieldProps = Omit<InputHTMLAttributes<HTMLInputElement>, "onChange" | "value"> & TextControlProps;

export function Field({ label, name, value, onValueChange, error, hint, limit, id, className, ...rest }: FieldProps) {
  const { ids, length, over, control } = useTextControl({ name, id, value, hint, limit, error });
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={control.id}>{label}</label>
      <input {...control} onChange={(event) => onValueChange(event.target.value)} {...rest} />
      {hint ? <Hint id={ids.hint} hint={hint} /> : null}
      {limit !== undefined ? <LengthCounter id={ids.count} name={name} length={length} limit={limit} over={over} /> : null}
      <FieldError id={ids.error} error={error} />
    </div>
  );
}

type SelectFieldProps = Omit<SelectHTMLAttributes<HTMLSelectElement>, "onChange" | "value"> & {
  label: string;
  name: string;
  value: string;
  onValueChange: (value: string) => void;
  options: readonly { value: string; label: string }[];
  error?: string | undefined;
};

export function SelectField({ label, name, value, onValueChange, options, error, className, ...rest }: SelectFieldProps) {
  const id = `${name}-${useId()}`;
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        name={name}
        value={value}
        onChange={(event) => onValueChange(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...rest}
      >
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

/** Several choices as checkboxes under a legend; `onChange` gets the new selection (a ticked choice is appended). */
export function CheckboxGroup<T extends string>({
  legend,
  options,
  selected,
  onChange,
  optionLabel = (option) => option,
}: {
  legend: string;
  options: readonly T[];
  selected: readonly T[];
  onChange: (selected: T[]) => void;
  optionLabel?: (option: T) => ReactNode;
}) {
  return (
    <fieldset className="plain">
      <legend>{legend}</legend>
      <div className="checkbox-row">
        {options.map((option) => (
          <label key={option} className="checkbox">
            <input
              type="checkbox"
              checked={selected.includes(option)}
              onChange={(event) => onChange(event.target.checked ? [...selected, option] : selected.filter((o) => o !== option))}
            />
            <span>{optionLabel(option)}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & {
  variant?: "primary" | "secondary" | "danger" | "ghost";
  busy?: boolean;
};

export function Button({ variant = "secondary", busy = false, className, children, disabled, type, ...rest }: ButtonProps) {
  return (
    <button
      type={type ?? "button"}
      className={`btn btn-${variant} ${className ?? ""}`}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      {...rest}
    >
      {children}
    </button>
  );
}

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {describeError(error)}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <div className="alert alert-success" role="status">
      {children}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Card({ title, children, className }: { title?: string; children: ReactNode; className?: string }) {
  const headingId = useId();
  return (
    <section className={`card ${className ?? ""}`} aria-labelledby={title ? headingId : undefined}>
      {title ? <h2 id={headingId}>{title}</h2> : null}
      {children}
    </section>
  );
}

/**
 * A modal confirmation on the native <dialog>: the browser traps focus, Escape cancels, and focus
 * returns to the button that opened it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  busy,
  error,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  error?: unknown;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      <div className="dialog-body">{children}</div>
      <ErrorAlert error={error} />
      <div className="dialog-actions">
        <Button onClick={onCancel} autoFocus>
          Cancel
        </Button>
        <Button variant="danger" onClick={onConfirm} busy={busy ?? false}>
          {confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2500);
    return () => window.clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <>
      <Button variant="primary" onClick={() => void copy()}>
        {state === "copied" ? "Copied" : label}
      </Button>
      <span className="visually-hidden" aria-live="polite">
        {state === "copied" ? "Copied to the clipboard." : state === "failed" ? "Copy failed: select the text and copy it." : ""}
      </span>
    </>
  );
}

export function RoleBadge({ role }: { role: string | null | undefined }) {
  if (!role) return null;
  return <span className={`badge badge-${role}`}>{role}</span>;
}

type TextAreaFieldProps = Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "onChange" | "value"> & TextControlProps;

export function TextAreaField({ label, name, value, onValueChange, error, hint, limit, id, className, ...rest }: TextAreaFieldProps) {
  const { ids, length, over, control } = useTextControl({ name, id, value, hint, limit, error });
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={control.id}>{label}</label>
      <textarea {...control} onChange={(event) => onValueChange(event.target.value)} {...rest} />
      <div className="field-meta">
        {hint ? <Hint id={ids.hint} hint={hint} /> : <span />}
        {limit !== undefined ? <LengthCounter id={ids.count} name={name} length={length} limit={limit} over={over} /> : null}
      </div>
      <FieldError id={ids.error} error={error} />
    </div>
  );
}

/** Previous / next for the API's page-number pagination ({count, next, previous, results}). */
export function Pager({
  page,
  count,
  pageSize,
  onPage,
  label,
  previousLabel = "Previous",
  nextLabel = "Next",
}: {
  page: number;
  count: number;
  pageSize: number;
  onPage: (page: number) => void;
  label: string;
  /** The buttons' names where "previous" has a meaning of its own (newer entries of a log). */
  previousLabel?: string;
  nextLabel?: string;
}) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={label}>
      <Button onClick={() => onPage(page - 1)} disabled={page <= 1}>
        {previousLabel}
      </Button>
      <span aria-live="polite">
        Page {page} of {pages}
      </span>
      <Button onClick={() => onPage(page + 1)} disabled={page >= pages}>
        {nextLabel}
      </Button>
    </nav>
  );
}

/** A coloured status chip (campaign, run, delivery, subscriber, app statuses share one palette). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status status-${status.replaceAll("_", "-")}`}>{status.replaceAll("_", " ")}</span>;
}

/** A horizontal stacked bar: each part a share of 100. */
export function StackedBar({ parts, label }: { parts: { key: string; label: string; percent: number; value: number }[]; label: string }) {
  return (
    <div className="stacked-bar" role="img" aria-label={`${label}: ${parts.map((p) => `${p.label} ${p.value}`).join(", ")}`}>
      {parts
        .filter((p) => p.percent > 0)
        .map((p) => (
          <span key={p.key} className={`bar-part bar-${p.key}`} style={{ width: `${p.percent}%` }} title={`${p.label}: ${p.value}`} />
        ))}
    </div>
  );
}

/** A headline figure with its label and an optional line under it (overview, campaign funnel). */
export function StatTile({ label, value, hint, testId }: { label: string; value: ReactNode; hint?: ReactNode; testId?: string }) {
  const labelId = useId();
  return (
    <div className="stat-tile" role="group" aria-labelledby={labelId} data-testid={testId}>
      <span id={labelId} className="stat-label">
        {label}
      </span>
      <strong className="stat-value">{value}</strong>
      {hint ? <span className="stat-hint">{hint}</span> : null}
    </div>
  );
}

/** A label/value list (details of an app, a run…). */
export function DefinitionList({ items }: { items: { term: string; value: ReactNode }[] }) {
  return (
    <dl className="definitions">
      {items.map((item) => (
        <div key={item.term}>
          <dt>{item.term}</dt>
          <dd>{item.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A value that follows `value` after it has stopped changing for `delay` ms (for live previews). */
export function useDebounced<T>(value: T, delay = 400): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** The API's hints under an error (what to change), one per line. */
export function ProblemHints({ hints }: { hints: readonly string[] }) {
  if (!hints.length) return null;
  return (
    <ul className="problem-hints">
      {hints.map((hint) => (
        <li key={hint}>{hint}</li>
      ))}
    </ul>
  );
}

/** ErrorAlert with the API's context spelled out (409 status, rule part, field errors): for action buttons. */
export function ProblemAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const view = describeProblem(error);
  return (
    <div className="alert alert-error" role="alert">
      {view.title ? <strong>{view.title} </strong> : null}
      {view.message}
      <ProblemHints hints={view.hints} />
    </div>
  );
}
