// Templates, searched by name, sorted and paged on the server.
import { useState } from "react";
import { api } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, Field, Loaded, PageHeader } from "../ui/kit";
import { OffsetPagerControls, useOffsetPage } from "../ui/Pager";

type Sort = "name" | "newest" | "updated";

export function TemplateList() {
  const { can } = useSession();
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<Sort>("name");
  const page = useOffsetPage(`${search}|${sort}`);
  const templates = useApi(
    () => call(api.GET("/v1/templates", { params: { query: { search: search.trim() || undefined, sort, ...page.query } } })),
    [search, sort, page.offset],
  );
  return (
    <>
      <PageHeader title="Templates" subtitle="Versioned content per channel, with variables checked when saved.">
        {can("templates:write") && (
          <Link to="/templates/new" className="btn btn-primary">
            New template
          </Link>
        )}
      </PageHeader>
      <div className="filters">
        <Field label="Search">
          {(p) => <input {...p} type="search" value={search} placeholder="Part of the name" onChange={(e) => setSearch(e.target.value)} />}
        </Field>
        <Field label="Sort by">
          {(p) => (
            <select {...p} value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
              <option value="name">name</option>
              <option value="newest">newest</option>
              <option value="updated">recently changed</option>
            </select>
          )}
        </Field>
      </div>
      <Loaded state={templates} what="templates">
        {(all) => {
          const { rows: list, more } = page.shown(all);
          return list.length === 0 ? (
            search.trim() ? (
              <Empty title={`No template matches “${search.trim()}”.`} />
            ) : (
              <Empty title="No templates yet.">
                {can("templates:write") ? <p>Create one to write the content of a campaign.</p> : <p>Editors create templates.</p>}
              </Empty>
            )
          ) : (
            <>
            <div className="table-wrap card">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Description</th>
                    <th scope="col" className="num">Version</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <Link to={`/templates/${t.id}`}>{t.name}</Link>
                      </td>
                      <td className="muted">{t.description || "—"}</td>
                      <td className="num">v{t.latest_version}</td>
                      <td>{when(t.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <OffsetPagerControls page={page} more={more} />
            </>
          );
        }}
      </Loaded>
    </>
  );
}
