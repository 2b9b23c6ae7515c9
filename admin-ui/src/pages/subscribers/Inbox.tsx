// One subscriber's inbox as they see it (archived items left out): what is in it,
// whether they read it, and the unread count their clients show. Newest first, paged.
import { api } from "../../api/client";
import { call } from "../../api/errors";
import { count, when } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { Empty, Loaded } from "../../ui/kit";
import { PagerControls, usePager } from "../../ui/Pager";

const SHOWN = 20;
const EXCERPT = 140;

function excerpt(body: string): string {
  const text = body.replace(/\s+/g, " ").trim();
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT - 1).trimEnd()}…` : text;
}

export function Inbox({ subscriber }: { subscriber: string }) {
  const pager = usePager(subscriber);
  const page = useApi(
    () =>
      call(
        api.GET("/v1/subscribers/{external_id}/inbox", {
          params: { path: { external_id: subscriber }, query: { before: pager.cursor ? Number(pager.cursor) : undefined, limit: SHOWN } },
        }),
      ),
    [subscriber, pager.cursor],
    { pollMs: 15000 },
  );
  const items = page.data?.items ?? [];
  const next = items.length === SHOWN ? String(items[items.length - 1]!.id) : null;
  return (
    <section className="card" aria-labelledby="inbox-title">
      <div className="card-head">
        <h2 id="inbox-title">Inbox</h2>
        {page.data && (
          <span className={`badge badge-count ${page.data.unread.count ? "badge-active" : "badge-neutral"}`} aria-live="polite">
            {page.data.unread.count ? `${count(page.data.unread.count)} unread` : "All read"}
          </span>
        )}
      </div>
      <Loaded state={page} what="the inbox">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title={pager.page === 1 ? "Nothing in this subscriber's inbox." : "No older items."}>
              <p className="muted small">Archived items are left out.</p>
            </Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table className="stack-table inbox-table">
                  <caption className="visually-hidden">Inbox items, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Message</th>
                      <th scope="col">Created</th>
                      <th scope="col">Read</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((item) => (
                      <tr key={item.id} className={item.read_at ? undefined : "unread"}>
                        <td data-label="Message">
                          <div className="inbox-item">
                            <span className="inbox-title">{item.title || <span className="muted">(no title)</span>}</span>
                            {item.body && <span className="inbox-body">{excerpt(item.body)}</span>}
                            <span className="small muted">{item.category}</span>
                          </div>
                        </td>
                        <td data-label="Created">{when(item.created_at)}</td>
                        <td data-label="Read">
                          {item.read_at ? (
                            <span className="inbox-read">
                              <span className="badge badge-success">read</span> <span className="small muted">{when(item.read_at)}</span>
                            </span>
                          ) : (
                            <span className="badge badge-active">unread</span>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="small muted">Archived items are left out.</p>
            </>
          )
        }
      </Loaded>
      <PagerControls pager={pager} next={next} />
    </section>
  );
}
