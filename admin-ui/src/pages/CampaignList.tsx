// Campaigns by status, searched by name, sorted and paged on the server.
import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { label, when } from "../lib/format";
import { Link, navigate, useLocation } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, Field, Loaded, PageHeader, StatusBadge } from "../ui/kit";
import { OffsetPagerControls, useOffsetPage } from "../ui/Pager";
import { LiveProgress } from "../ui/progress";
import { scheduleText } from "../ui/schedule";

type Status = Schemas["Status"];
type Sort = "newest" | "oldest" | "name" | "status";
const STATUSES: Status[] = ["draft", "in_review", "approved", "rejected", "scheduled", "running", "paused", "completed", "cancelled"];
const SHOWS_PROGRESS = new Set(["scheduled", "running", "paused", "completed", "cancelled"]);

export function CampaignList() {
  const { can } = useSession();
  const { query } = useLocation();
  const wanted = query.get("status");
  const status = STATUSES.find((s) => s === wanted) ?? null;
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<Sort>("newest");
  const page = useOffsetPage(`${status}|${search}|${sort}`);
  const campaigns = useApi(
    () =>
      call(
        api.GET("/v1/campaigns", {
          params: { query: { status: status ?? undefined, search: search.trim() || undefined, sort, ...page.query } },
        }),
      ),
    [status, search, sort, page.offset],
    { pollMs: 10000 },
  );

  return (
    <>
      <PageHeader title="Campaigns" subtitle="A template sent to an audience over channels, after review.">
        {can("campaigns:write") && (
          <Link to="/campaigns/new" className="btn btn-primary">
            New campaign
          </Link>
        )}
      </PageHeader>
      <div className="filters">
        <Field label="Status">
          {(p) => (
            <select {...p} value={status ?? ""} onChange={(e) => navigate(e.target.value ? `/campaigns?status=${e.target.value}` : "/campaigns", { replace: true })}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {label(s)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Search">
          {(p) => <input {...p} type="search" value={search} placeholder="Part of the name" onChange={(e) => setSearch(e.target.value)} />}
        </Field>
        <Field label="Sort by">
          {(p) => (
            <select {...p} value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
              <option value="newest">newest</option>
              <option value="oldest">oldest</option>
              <option value="name">name</option>
              <option value="status">status</option>
            </select>
          )}
        </Field>
      </div>
      <Loaded state={campaigns} what="campaigns">
        {(all) => {
          const { rows: list, more } = page.shown(all);
          return list.length === 0 ? (
            <Empty
              title={
                search.trim()
                  ? `No campaign matches “${search.trim()}”.`
                  : status
                    ? `No ${label(status).toLowerCase()} campaigns.`
                    : "No campaigns yet."
              }
            >
              {can("campaigns:write") && !status && !search.trim() && <p>Create one from a template and an audience.</p>}
            </Empty>
          ) : (
            <>
            <div className="table-wrap card">
              <table className="campaigns">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Status</th>
                    <th scope="col">Channels</th>
                    <th scope="col">Schedule</th>
                    <th scope="col" className="col-progress">Progress</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link to={`/campaigns/${c.id}`}>{c.name}</Link>
                        <div className="muted small">{c.category} · created {when(c.created_at)}</div>
                      </td>
                      <td>
                        <StatusBadge status={c.status} />
                      </td>
                      <td>{c.channels.join(", ")}</td>
                      <td>{scheduleText(c.schedule)}</td>
                      <td className="col-progress">{SHOWS_PROGRESS.has(c.status) ? <LiveProgress id={c.id} status={c.status} name={c.name} /> : <span className="muted">—</span>}</td>
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
