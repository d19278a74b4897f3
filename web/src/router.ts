import { useEffect, useState } from 'react';

/**
 * The console's few pages are paths (/billing, /train, …) handled in the browser: the API
 * answers every such path with index.html, so a page reloads where it was.
 */
export function navigate(to: string): void {
  window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

/** The current path and query, updated on navigate() and the browser's back and forward. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [location, setLocation] = useState(() => ({ path: window.location.pathname, search: window.location.search }));
  useEffect(() => {
    const update = () => setLocation({ path: window.location.pathname, search: window.location.search });
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return { path: location.path, query: new URLSearchParams(location.search) };
}
