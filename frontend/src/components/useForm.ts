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

  return { values, set, errors, handleSubmit, reset, setValues };
}
