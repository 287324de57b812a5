/** The selected workspace's id: kept in localStorage and sent as X-Workspace-ID. */
import { browserStorage, createStoredValue, type StoredValue } from "../lib/storedValue";

export const workspaceSelection: StoredValue<string> = createStoredValue<string>(
  browserStorage(),
  "pushpilot.workspace",
  (raw) => (raw ? raw : null),
  (id) => id,
);
