/** Who is signed in: the stored JWT pair and /auth/me. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
import { api, call, type User } from "../api/client";
import { type Tokens, tokenStore } from "../api/tokens";
import { workspaceSelection } from "../api/workspaceSelection";

interface Session {
  tokens: Tokens | null;
  user: User | undefined;
  userError: unknown;
  signIn: (tokens: Tokens) => void;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const tokens = useSyncExternalStore(tokenStore.subscribe, tokenStore.get);
  const signedIn = tokens !== null;

  const me = useQuery({
    queryKey: ["me"],
    queryFn: () => call(api.GET("/api/v1/auth/me/")),
    enabled: signedIn,
    staleTime: 5 * 60_000,
  });

  // Signed out (by the button, or because the refresh token was refused): forget everything cached.
  useEffect(() => {
    if (!signedIn) queryClient.removeQueries();
  }, [signedIn, queryClient]);

  const signIn = useCallback(
    (next: Tokens) => {
      queryClient.removeQueries();
      tokenStore.set(next);
    },
    [queryClient],
  );

  const signOut = useCallback(async () => {
    const current = tokenStore.get();
    if (current) {
      // Blacklist the refresh token; signing out locally must not depend on the answer.
      await call(api.POST("/api/v1/auth/logout/", { body: { refresh: current.refresh } })).catch(() => undefined);
    }
    tokenStore.clear();
    workspaceSelection.clear();
  }, []);

  const value = useMemo(
    () => ({ tokens, user: me.data, userError: me.error, signIn, signOut }),
    [tokens, me.data, me.error, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
