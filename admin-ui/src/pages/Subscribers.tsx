// Subscribers as product services registered them, filtered by tag or time zone, or
// found by external id.
import { api } from "../api/client";
import { call } from "../api/errors";
import { when } from "../lib/format";
import type { FormEvent } from "react";
import { Link, navigate, useLocation } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, Empty, Field, Loaded, PageHeader } from "../ui/kit";
import { PagerControls, usePager } from "../ui/Pager";

export function Subscribers() {
  const { query } = useLocation();
  const tag = query.get("tag") ?? "";
  const timezone = query.get("timezone") ?? "";
  const pager = usePager(`${tag}|${timezone}`);
  const page = useApi(
    () =>
      call(
        api.GET("/v1/subscribers", {
          params: { query: { tag: tag || undefined, timezone: timezone || undefined, cursor: pager.cursor ?? undefined, limit: 50 } },
        }),
      ),
    [tag, timezone, pager.cursor],
  );
  const setQuery = (k: string, v: string) => {
    const params = new URLSearchParams(query);
    if (v) params.set(k, v);
    else params.delete(k);
    navigate(`/subscribers${params.size ? `?${params}` : ""}`, { replace: true });
  };
  const find = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const id = String(new FormData(event.currentTarget).get("external_id") ?? "").trim();
    if (id) navigate(`/subscribers/${encodeURIComponent(id)}`);
  };
  return (
    <>
      <PageHeader title="Subscribers" subtitle="Registered by product services through the API (PUT /v1/subscribers/{id}) or bulk import." />
      <div className="filters">
        <form className="find" onSubmit={find} role="search" aria-label="Find a subscriber">
          <Field label="External id">{(p) => <input {...p} name="external_id" placeholder="user-42" />}</Field>
          <Button type="submit">Open</Button>
        </form>
        <Field label="Tag">{(p) => <input {...p} defaultValue={tag} onBlur={(e) => setQuery("tag", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("tag", e.currentTarget.value.trim())} />}</Field>
        <Field label="Time zone">{(p) => <input {...p} defaultValue={timezone} placeholder="Europe/Berlin" onBlur={(e) => setQuery("timezone", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("timezone", e.currentTarget.value.trim())} />}</Field>
      </div>
      <Loaded state={page} what="subscribers">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No subscribers match." />
          ) : (
            <>
              <div className="table-wrap card">
                <table>
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
                        <td>
                          <Link to={`/subscribers/${encodeURIComponent(s.external_id)}`}>{s.external_id}</Link>
                        </td>
                        <td>{s.email ?? "—"}</td>
                        <td>{s.timezone ?? "—"}</td>
                        <td>{s.tags.join(", ") || "—"}</td>
                        <td className="small">{Object.keys(s.attributes ?? {}).length ? <code>{JSON.stringify(s.attributes)}</code> : "—"}</td>
                        <td>{when(s.updated_at)}</td>
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
    </>
  );
}
