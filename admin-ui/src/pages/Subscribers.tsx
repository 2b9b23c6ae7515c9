// Subscribers as product services registered them: searched by the start of their
// external id or email as the operator types, filtered by tag or time zone, paged.
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { Link, navigate, useLocation } from "../lib/router";
import { useApi, useDebounced } from "../lib/useApi";
import { Button, Empty, Field, Loaded, PageHeader } from "../ui/kit";
import { PagerControls, usePager } from "../ui/Pager";
import { Import } from "./subscribers/Import";

const PAGE = 50;

export function Subscribers() {
  const { can } = useSession();
  const { query } = useLocation();
  const search = query.get("search") ?? "";
  const tag = query.get("tag") ?? "";
  const timezone = query.get("timezone") ?? "";
  const pager = usePager(`${search}|${tag}|${timezone}`);
  const page = useApi(
    () =>
      call(
        api.GET("/v1/subscribers", {
          params: {
            query: {
              search: search || undefined,
              tag: tag || undefined,
              timezone: timezone || undefined,
              cursor: pager.cursor ?? undefined,
              limit: PAGE,
            },
          },
        }),
      ),
    [search, tag, timezone, pager.cursor],
  );
  const setQuery = (k: string, v: string) => {
    const params = new URLSearchParams(query);
    if (v) params.set(k, v);
    else params.delete(k);
    if (params.get(k) === query.get(k)) return;
    navigate(`/subscribers${params.size ? `?${params}` : ""}`, { replace: true });
  };
  const results = useRef<HTMLDivElement>(null);
  const filtered = Boolean(search || tag || timezone);
  const stale = page.loading && page.data !== undefined;

  return (
    <>
      <PageHeader title="Subscribers" subtitle="Registered by product services through the API (PUT /v1/subscribers/{id}) or bulk import.">
        {can("subscribers:write") && (
          <Link to="/subscribers/new" className="btn btn-primary">
            New subscriber
          </Link>
        )}
      </PageHeader>
      <div className="filters filters-top">
        <SearchBox
          search={search}
          onSearch={(text) => setQuery("search", text)}
          onLeave={() => results.current?.querySelector<HTMLAnchorElement>("tbody a")?.focus()}
        />
        <Field label="Tag">{(p) => <input {...p} defaultValue={tag} onBlur={(e) => setQuery("tag", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("tag", e.currentTarget.value.trim())} />}</Field>
        <Field label="Time zone">{(p) => <input {...p} defaultValue={timezone} placeholder="Europe/Berlin" onBlur={(e) => setQuery("timezone", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("timezone", e.currentTarget.value.trim())} />}</Field>
      </div>
      <p className="visually-hidden" role="status" aria-live="polite">
        {page.loading ? "Searching…" : page.data ? matchCount(page.data.items.length, Boolean(page.data.next_cursor), filtered) : ""}
      </p>
      <div ref={results} className={stale ? "stale" : undefined} aria-busy={page.loading}>
        <Loaded state={page} what="subscribers">
          {(p) =>
            p.items.length === 0 ? (
              search ? (
                <Empty title={`No subscriber's external id or email starts with “${search}”.`}>
                  <p className="muted">{tag || timezone ? "Only subscribers with the tag and time zone above are searched. " : ""}Check the start of the id or address.</p>
                </Empty>
              ) : (
                <Empty title={filtered ? "No subscribers match." : "No subscribers yet."} />
              )
            ) : (
              <>
                <div className="table-wrap card">
                  <table className="stack-table">
                    <caption className="visually-hidden">{search ? `Subscribers whose external id or email starts with ${search}` : "Subscribers"}</caption>
                    <thead>
                      <tr>
                        <th scope="col">External id</th>
                        <th scope="col">Email</th>
                        <th scope="col">Time zone</th>
                        <th scope="col">Tags</th>
                        <th scope="col">Attributes</th>
                        <th scope="col">Updated</th>
                      </tr>
                    </thead>
                    <tbody>
                      {p.items.map((s) => (
                        <tr key={s.external_id}>
                          <td data-label="External id">
                            <Link to={`/subscribers/${encodeURIComponent(s.external_id)}`}>
                              <Highlight text={s.external_id} prefix={search} />
                            </Link>
                          </td>
                          <td data-label="Email">{s.email ? <Highlight text={s.email} prefix={search} /> : "—"}</td>
                          <td data-label="Time zone">{s.timezone ?? "—"}</td>
                          <td data-label="Tags">{s.tags.join(", ") || "—"}</td>
                          <td data-label="Attributes" className="small">{Object.keys(s.attributes ?? {}).length ? <code>{JSON.stringify(s.attributes)}</code> : "—"}</td>
                          <td data-label="Updated">{when(s.updated_at)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <PagerControls pager={pager} next={p.next_cursor} />
              </>
            )
          }
        </Loaded>
      </div>
      {can("subscribers:write") && <Import imported={page.reload} />}
    </>
  );
}

function matchCount(n: number, more: boolean, filtered: boolean): string {
  const what = n === 1 ? "subscriber" : "subscribers";
  if (n === 0) return filtered ? "No subscribers match." : "No subscribers yet.";
  return `${n}${more ? "+" : ""} ${what}${filtered ? " match" : ""}${more ? "; more on the next page" : ""}.`;
}

/// The search box: follows typing (debounced), Enter searches at once, Escape clears,
/// the down arrow moves to the first result.
function SearchBox({ search, onSearch, onLeave }: { search: string; onSearch: (text: string) => void; onLeave: () => void }) {
  const [text, setText] = useState(search);
  const settled = useDebounced(text, 300);
  const pushed = useRef(search);
  const push = (value: string) => {
    const trimmed = value.trim();
    pushed.current = trimmed;
    onSearch(trimmed);
  };
  useEffect(() => {
    if (settled.trim() !== pushed.current) push(settled);
  }, [settled]);
  // The address changed by itself (back, a link): show what it searches.
  useEffect(() => {
    if (search !== pushed.current) {
      pushed.current = search;
      setText(search);
    }
  }, [search]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    push(text);
  };
  const keys = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Escape" && text) {
      event.preventDefault();
      setText("");
      push("");
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      onLeave();
    }
  };
  const id = useId();
  return (
    <form className="field subscriber-search" onSubmit={submit} role="search" aria-label="Subscribers">
      <label htmlFor={id}>Search</label>
      <div className="input-with-button">
        <input
          id={id}
          type="search"
          name="search"
          value={text}
          maxLength={255}
          autoComplete="off"
          spellCheck={false}
          placeholder="user-4 or ann@"
          aria-describedby={`${id}-hint`}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={keys}
        />
        <Button type="submit">Search</Button>
      </div>
      <p className="hint" id={`${id}-hint`}>
        The start of an external id or email. ↓ moves to the results, Escape clears.
      </p>
    </form>
  );
}

/// The matched start of an id or address in bold.
function Highlight({ text, prefix }: { text: string; prefix: string }) {
  if (!prefix || !text.toLowerCase().startsWith(prefix.toLowerCase())) return <span>{text}</span>;
  return (
    <span>
      <mark className="match">{text.slice(0, prefix.length)}</mark>
      {text.slice(prefix.length)}
    </span>
  );
}
