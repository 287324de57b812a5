/** Client-side checks with the API's own limits, so a form fails before the round trip. */

export const LIMITS = {
  email: 254,
  passwordMin: 8,
  passwordMax: 128,
  fullName: 150,
  workspaceName: 100,
  apiKeyName: 100,
  timezone: 64,
} as const;

export type Rule = (value: string) => string | null;

export const required =
  (message = "This field is required."): Rule =>
  (value) =>
    value.trim() ? null : message;

export const maxLength =
  (limit: number): Rule =>
  (value) =>
    value.length > limit ? `Use at most ${limit} characters (now ${value.length}).` : null;

export const minLength =
  (limit: number): Rule =>
  (value) =>
    value.length > 0 && value.length < limit ? `Use at least ${limit} characters.` : null;

// One @, something on each side, a dot in the domain, no spaces: the shape Django's EmailValidator
// accepts for ordinary addresses. The server has the final word.
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const email: Rule = (value) =>
  !value.trim() || EMAIL_RE.test(value.trim()) ? null : "Enter a valid email address.";

export const matches =
  (other: () => string, message: string): Rule =>
  (value) =>
    value === other() ? null : message;

export const RULES = {
  email: [required("Enter your email address."), email, maxLength(LIMITS.email)],
  password: [required("Enter a password."), minLength(LIMITS.passwordMin), maxLength(LIMITS.passwordMax)],
  signInPassword: [required("Enter your password."), maxLength(LIMITS.passwordMax)],
  fullName: [maxLength(LIMITS.fullName)],
  workspaceName: [required("Give the workspace a name."), maxLength(LIMITS.workspaceName)],
  apiKeyName: [required("Give the key a name."), maxLength(LIMITS.apiKeyName)],
  timezone: [maxLength(LIMITS.timezone)],
} satisfies Record<string, Rule[]>;

export type Errors<K extends string> = Partial<Record<K, string>>;

/** Runs each field's rules in order and keeps the first message per field. */
export function validate<K extends string>(
  values: Record<K, string>,
  rules: Partial<Record<K, readonly Rule[]>>,
): Errors<K> {
  const errors: Errors<K> = {};
  for (const field of Object.keys(rules) as K[]) {
    for (const rule of rules[field] ?? []) {
      const message = rule(values[field] ?? "");
      if (message) {
        errors[field] = message;
        break;
      }
    }
  }
  return errors;
}

export function isValid<K extends string>(errors: Errors<K>): boolean {
  return Object.values(errors).every((message) => !message);
}
