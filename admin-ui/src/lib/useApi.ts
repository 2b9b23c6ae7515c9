// Loads data for a screen: loading and error states, reload, optional polling (paused
// while the tab is hidden), and answers that arrive out of order are dropped.
import { useCallback, useEffect, useRef, useState } from "react";

export type Loaded<T> = {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (data: T) => void;
};

export function useApi<T>(load: () => Promise<T>, deps: unknown[], options: { pollMs?: number } = {}): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const sequence = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const run = useCallback((quiet: boolean) => {
    const mine = ++sequence.current;
    if (!quiet) setLoading(true);
    loader.current().then(
      (value) => {
        if (mine !== sequence.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (failure: unknown) => {
        if (mine !== sequence.current) return;
        setError(failure);
        setLoading(false);
      },
    );
  }, deps);

  useEffect(() => {
    run(false);
    if (!options.pollMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") run(true);
    }, options.pollMs);
    return () => {
      window.clearInterval(timer);
      sequence.current++;
    };
  }, [run, options.pollMs]);

  return { data, error, loading, reload: () => run(true), setData };
}

/// A value that follows `value` after it has been still for `ms`.
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/// The state without its data while new parameters load (a filter changed), so a screen
/// shows "loading" instead of rows that answer the previous question. Only for data
/// loaded without polling: a quiet reload keeps `loading` false.
export function freshOnly<T>(state: Loaded<T>): Loaded<T> {
  return state.loading ? { ...state, data: undefined } : state;
}
