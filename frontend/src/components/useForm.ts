import { type FormEvent, useState } from "react";
import { type Errors, isValid, type Rule, validate } from "../lib/validation";

/**
 * Form values + client validation with the API's limits. Errors appear after the first submit and then
 * follow typing; a failed submit moves focus to the first invalid field.
 */
export function useForm<K extends string>(initial: Record<K, string>, rules: Partial<Record<K, readonly Rule[]>>) {
  const [values, setValues] = useState(initial);
  const [submitted, setSubmitted] = useState(false);
  const errors: Errors<K> = submitted ? validate(values, rules) : {};

  const set = (field: K) => (value: string) => setValues((prev) => ({ ...prev, [field]: value }));

  const handleSubmit = (onValid: (values: Record<K, string>) => void) => (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSubmitted(true);
    const found = validate(values, rules);
    if (isValid(found)) {
      onValid(values);
      return;
    }
    const first = (Object.keys(rules) as K[]).find((field) => found[field]);
    const element = first ? event.currentTarget.elements.namedItem(first) : null;
    if (element instanceof HTMLElement) element.focus();
  };

  const reset = (next: Record<K, string> = initial) => {
    setValues(next);
    setSubmitted(false);
  };

  /** The props that bind a Field or SelectField to `name`: its value, its setter, its error (ours first, then the API's). */
  const field = (name: K, server: Record<string, string> = {}) => fieldBinder(values, set, errors, server)(name);

  return { values, set, errors, field, handleSubmit, reset, setValues };
}

/**
 * For forms whose checks do not fit `useForm`'s rules (numbers, booleans, checks across fields): the caller
 * computes one message (or null) per API field on each render; they show after the first submit, then follow
 * typing, and `handleSubmit(onValid)` runs onValid only when none is left.
 */
export function useCheckedSubmit(checks: Record<string, string | null>) {
  const [submitted, setSubmitted] = useState(false);
  const errors: Record<string, string | null> = submitted ? checks : {};
  const handleSubmit = (onValid: () => void) => (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (Object.values(checks).some(Boolean)) return;
    onValid();
  };
  return { errors, handleSubmit };
}

type StringKeys<V> = { [K in keyof V]: V[K] extends string ? K : never }[keyof V] & string;

/**
 * `field(name)` gives a Field, TextAreaField or SelectField its name, value, setter and error (the client's
 * check first, then the API's), for a form kept in one state object whose keys are the API's field names.
 */
export function fieldBinder<V extends object>(
  values: V,
  set: (name: StringKeys<V>) => (value: string) => void,
  errors: Partial<Record<string, string | null>>,
  server: Record<string, string> = {},
) {
  return (name: StringKeys<V>) => ({
    name,
    value: values[name] as string,
    onValueChange: set(name),
    error: errors[name] ?? server[name],
  });
}
