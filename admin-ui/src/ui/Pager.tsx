// Cursor pages of a log: the first page, then "older" follows next_cursor.
import { useState } from "react";
import { Button } from "./kit";

export function usePager(reset: string) {
  const [stack, setStack] = useState<{ reset: string; cursors: string[] }>({ reset, cursors: [] });
  const cursors = stack.reset === reset ? stack.cursors : [];
  return {
    cursor: cursors[cursors.length - 1] ?? null,
    page: cursors.length + 1,
    older: (next: string) => setStack({ reset, cursors: [...cursors, next] }),
    newer: () => setStack({ reset, cursors: cursors.slice(0, -1) }),
  };
}

export function PagerControls({ pager, next }: { pager: ReturnType<typeof usePager>; next: string | null | undefined }) {
  if (pager.page === 1 && !next) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <Button onClick={pager.newer} disabled={pager.page === 1}>
        Newer
      </Button>
      <span className="muted">Page {pager.page}</span>
      <Button onClick={() => next && pager.older(next)} disabled={!next}>
        Older
      </Button>
    </nav>
  );
}

/// Rows per page of an offset-paged list; one more is asked for, to know whether a
/// next page exists.
export const PAGE_SIZE = 25;

/// Pages of a list searched and sorted on the server: the page to ask for, reset to
/// the first whenever `reset` (the search and sort) changes.
export function useOffsetPage(reset: string) {
  const [state, setState] = useState<{ reset: string; offset: number }>({ reset, offset: 0 });
  const offset = state.reset === reset ? state.offset : 0;
  return {
    offset,
    query: { offset, limit: PAGE_SIZE + 1 },
    /// The rows to show of what came back, and whether more follow.
    shown: <T,>(rows: T[]) => ({ rows: rows.slice(0, PAGE_SIZE), more: rows.length > PAGE_SIZE }),
    go: (next: number) => setState({ reset, offset: Math.max(0, next) }),
  };
}

export function OffsetPagerControls({ page, more }: { page: ReturnType<typeof useOffsetPage>; more: boolean }) {
  if (page.offset === 0 && !more) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <Button onClick={() => page.go(page.offset - PAGE_SIZE)} disabled={page.offset === 0}>
        Previous
      </Button>
      <span className="muted">Page {page.offset / PAGE_SIZE + 1}</span>
      <Button onClick={() => page.go(page.offset + PAGE_SIZE)} disabled={!more}>
        Next
      </Button>
    </nav>
  );
}
