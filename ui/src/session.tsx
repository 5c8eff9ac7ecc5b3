// The signed-in session: the API token (kept in sessionStorage), the GraphQL client, live
// design changes and a hook for queries.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { ApiError, Client } from './graphql';
import type { DesignChange } from './api';

const tokenKey = 'trellis.token';

/** Session is what pages get from useSession. */
export interface Session {
  client: Client;
  /** Increments on every design change received live. */
  changes: number;
  lastChange: DesignChange | null;
  /** Signs out, optionally explaining why on the sign-in page. */
  signOut: (reason?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

/** Returns the current session (only inside signed-in pages). */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a session');
  return s;
}

/** Reads the stored token. */
export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(tokenKey);
  } catch {
    return null;
  }
}

/** Stores or clears the token. */
export function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(tokenKey, token);
    else sessionStorage.removeItem(tokenKey);
  } catch {
    /* storage disabled: the session lasts for this page only */
  }
}

/** The state of a query. */
export interface QueryState<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs query whenever its key changes (and on reload); a 401 signs the user out with an
 * explanation.
 */
export function useQuery<T>(query: string, variables: Record<string, unknown>, enabled = true): QueryState<T> {
  const { client, signOut } = useSession();
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({ data: null, error: null, loading: enabled });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables);
  const seq = useRef(0);
  useEffect(() => {
    if (!enabled) return;
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    client.request<T>(query, variables).then(
      (data) => n === seq.current && setState({ data, error: null, loading: false }),
      (error) => {
        if (n !== seq.current) return;
        if (error instanceof ApiError && error.unauthenticated) {
          signOut('Your API token was rejected (401 Unauthorized). Sign in again with a valid token.');
          return;
        }
        setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, query, key, tick, enabled]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Props of SessionProvider. */
export interface ProviderProps {
  session: Session;
  children: ReactNode;
}

/** Provides the session to pages. */
export function SessionProvider({ session, children }: ProviderProps) {
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}
