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
