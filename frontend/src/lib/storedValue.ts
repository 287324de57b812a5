/** A value kept in localStorage with change notifications (for useSyncExternalStore). */

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface StoredValue<T> {
  get(): T | null;
  set(value: T): void;
  clear(): void;
  subscribe(listener: () => void): () => void;
}

export function createStoredValue<T>(
  storage: KeyValueStorage,
  key: string,
  decode: (raw: string) => T | null,
  encode: (value: T) => string,
): StoredValue<T> {
  const listeners = new Set<() => void>();
  const read = (): T | null => {
    const raw = storage.getItem(key);
    if (raw === null) return null;
    try {
      return decode(raw);
    } catch {
      return null; // a corrupt entry reads as absent
    }
  };
  // Cached so that React sees a stable snapshot between changes.
  let current = read();
  const notify = () => listeners.forEach((listener) => listener());
  return {
    get: () => current,
    set(value) {
      current = value;
      storage.setItem(key, encode(value));
      notify();
    },
    clear() {
      if (current === null) return;
      current = null;
      storage.removeItem(key);
      notify();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

export function memoryStorage(): KeyValueStorage {
  const data = new Map<string, string>();
  return {
    getItem: (key) => data.get(key) ?? null,
    setItem: (key, value) => void data.set(key, value),
    removeItem: (key) => void data.delete(key),
  };
}

export function browserStorage(): KeyValueStorage {
  try {
    if (typeof window !== "undefined" && window.localStorage) return window.localStorage;
  } catch {
    // Storage disabled (privacy mode): the session lasts as long as the tab.
  }
  return memoryStorage();
}
