import { useCallback, useEffect, useState, type MouseEvent, type ReactNode } from 'react';
import { errorText } from './api';
import { navigate } from './router';

/** An in-console link: a real anchor (open in a new tab works), navigated without a reload. */
export function Link({ to, children, className, current }: { to: string; children: ReactNode; className?: string; current?: boolean }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}

/** An error from the API, announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {errorText(error)}
    </p>
  );
}

/** A run's status (queued, running, succeeded, …); `live` ones are announced as they change. */
export function StatusBadge({ status, progress, live = true }: { status: string; progress?: number; live?: boolean }) {
  return (
    <span className={`status status-${status}`} {...(live ? { role: 'status', 'aria-live': 'polite' as const } : {})} data-testid="status">
      {status}
      {progress !== undefined && status !== 'succeeded' ? ` ${Math.round(progress * 100)}%` : ''}
    </span>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads something from the API when the component mounts (and on reload()). */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  // The caller lists what `load` depends on, as with useCallback.
  const stableLoad = useCallback(load, deps);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    stableLoad().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [stableLoad, generation]);
  return { data: state.data, error: state.error, loading: state.loading, reload: () => setGeneration((g) => g + 1) };
}

export const formatDate = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');
export const formatBytes = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`);
