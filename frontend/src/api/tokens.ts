/** The JWT pair (access + refresh), kept between page loads. */
import { browserStorage, createStoredValue, type KeyValueStorage, type StoredValue } from "../lib/storedValue";

export interface Tokens {
  access: string;
  refresh: string;
}

export type TokenStore = StoredValue<Tokens>;

export function decodeTokens(raw: string): Tokens | null {
  const value: unknown = JSON.parse(raw);
  if (typeof value !== "object" || value === null) return null;
  const { access, refresh } = value as Record<string, unknown>;
  return typeof access === "string" && typeof refresh === "string" ? { access, refresh } : null;
}

export function createTokenStore(storage: KeyValueStorage): TokenStore {
  return createStoredValue<Tokens>(storage, "pushpilot.tokens", decodeTokens, (t) =>
    JSON.stringify({ access: t.access, refresh: t.refresh }),
  );
}

export const tokenStore: TokenStore = createTokenStore(browserStorage());
