// A tiny history-API router: the current location as state, and navigation.
import { useEffect, useState } from 'react';

/** Route is a parsed location. */
export type Route =
  | { page: 'signin' }
  | { page: 'designs'; after?: string; before?: string }
  | { page: 'design'; name: string; tab: DesignTab; params: URLSearchParams }
  | { page: 'capabilities' }
  | { page: 'notfound'; path: string };

/** The sub-pages of a design. */
export type DesignTab = 'overview' | 'edit' | 'diff' | 'translate' | 'check';

const tabs: DesignTab[] = ['overview', 'edit', 'diff', 'translate', 'check'];

/** Parses a pathname and query string into a Route. */
export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search);
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'designs')) {
    return { page: 'designs', after: params.get('after') ?? undefined, before: params.get('before') ?? undefined };
  }
  if (parts[0] === 'signin' && parts.length === 1) return { page: 'signin' };
  if (parts[0] === 'capabilities' && parts.length === 1) return { page: 'capabilities' };
  if (parts[0] === 'designs' && (parts.length === 2 || parts.length === 3)) {
    const tab = (parts[2] ?? 'overview') as DesignTab;
    if (tabs.includes(tab)) return { page: 'design', name: parts[1], tab, params };
  }
  return { page: 'notfound', path: pathname };
}

/** Builds the path of a design's sub-page. */
export function designPath(name: string, tab: DesignTab = 'overview', query?: Record<string, string | number>): string {
  let p = `/designs/${encodeURIComponent(name)}`;
  if (tab !== 'overview') p += `/${tab}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) q.set(k, String(v));
    p += `?${q}`;
  }
  return p;
}

const listeners = new Set<() => void>();

/** Navigates to path without reloading the page. */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listeners.forEach((l) => l());
}

/** Returns the current route, updating on navigation and back/forward. */
export function useRoute(): Route {
  const read = () => parseRoute(location.pathname, location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const update = () => setRoute(read());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}
