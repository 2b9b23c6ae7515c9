// The short lists' search, sort and pages, asked of the server: a page shows what the
// server found, "no match" differs from "none yet", and a new search starts at page 1.
import { useState, type ReactNode } from "react";
import { Empty, Field } from "./kit";
import { OffsetPagerControls, useOffsetPage } from "./Pager";

export type NameSort = "name" | "newest" | "oldest";

export function useListing(defaultSort: NameSort) {
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<NameSort>(defaultSort);
  const page = useOffsetPage(`${search}|${sort}`);
  return {
    search,
    setSearch,
    sort,
    setSort,
    page,
    /// The list operation's query parameters.
    query: { search: search.trim() || undefined, sort, ...page.query },
    /// What the list must be asked for again on.
    deps: [search, sort, page.offset],
  };
}

export type Listing = ReturnType<typeof useListing>;

/// Search (on `field`, e.g. "name") and sort controls.
export function ListFilters({ listing, field = "name" }: { listing: Listing; field?: string }) {
  return (
    <div className="filters">
      <Field label="Search">
        {(p) => (
          <input {...p} type="search" value={listing.search} placeholder={`Part of the ${field}`} onChange={(e) => listing.setSearch(e.target.value)} />
        )}
      </Field>
      <Field label="Sort by">
        {(p) => (
          <select {...p} value={listing.sort} onChange={(e) => listing.setSort(e.target.value as NameSort)}>
            <option value="name">{field}</option>
            <option value="newest">newest</option>
            <option value="oldest">oldest</option>
          </select>
        )}
      </Field>
    </div>
  );
}

/// One page of `rows` (as the server answered, one more than shown), with the pager;
/// `none` when the list is empty, a "no match" notice when a search found nothing.
export function Listed<T>({
  rows,
  listing,
  what,
  none,
  children,
}: {
  rows: T[];
  listing: Listing;
  what: string;
  none: ReactNode;
  children: (rows: T[]) => ReactNode;
}) {
  const { rows: shown, more } = listing.page.shown(rows);
  const search = listing.search.trim();
  if (shown.length === 0) return search ? <Empty title={`No ${what} matches “${search}”.`} /> : <>{none}</>;
  return (
    <>
      {children(shown)}
      <OffsetPagerControls page={listing.page} more={more} />
    </>
  );
}
