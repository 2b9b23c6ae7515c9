// One subscriber's latest deliveries on one channel or all: what, when, and why not.
import { api } from "../../api/client";
import { entryKey } from "../../api/deliveries";
import { call } from "../../api/errors";
import { csvUrl } from "../../api/reports";
import { label, when } from "../../lib/format";
import { Link } from "../../lib/router";
import { useApi } from "../../lib/useApi";
import { CsvLink } from "../../ui/CsvLink";
import { Empty, Loaded, StatusBadge } from "../../ui/kit";
import type { ChannelKind } from "../../ui/templateContent";

const SHOWN = 20;

export function DeliveryHistory({ subscriber, channel, title, empty }: { subscriber: string; channel?: ChannelKind; title: string; empty: string }) {
  const page = useApi(
    () => call(api.GET("/v1/deliveries", { params: { query: { subscriber, channel, limit: SHOWN } } })),
    [subscriber, channel],
  );
  const query = new URLSearchParams({ subscriber, ...(channel ? { channel } : {}) });
  const headingId = `history-${channel ?? "all"}`;
  return (
    <section className="card" aria-labelledby={headingId}>
      <div className="card-head">
        <h2 id={headingId}>{title}</h2>
        <CsvLink what={title.toLowerCase()} href={csvUrl("/v1/deliveries", { subscriber, channel })} />
      </div>
      <Loaded state={page} what={title.toLowerCase()}>
        {(p) =>
          p.items.length === 0 ? (
            <Empty title={empty} />
          ) : (
            <>
              <div className="table-wrap">
                <table className="stack-table">
                  <caption className="visually-hidden">{title}</caption>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      {!channel && <th scope="col">Channel</th>}
                      <th scope="col">Message</th>
                      <th scope="col">Status</th>
                      <th scope="col">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((d) => (
                      <tr key={entryKey(d)}>
                        <td data-label="When">{when(d.created_at)}</td>
                        {!channel && <td data-label="Channel">{d.channel}</td>}
                        <td data-label="Message">#{d.message_id}</td>
                        <td data-label="Status">
                          <StatusBadge status={d.status} />
                        </td>
                        <td data-label="Why" className="muted">
                          {d.filter ? `${label(d.filter)}: ` : ""}
                          {d.reason ?? "—"}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="small">
                {p.next_cursor ? `The latest ${SHOWN}. ` : ""}
                <Link to={`/deliveries?${query}`}>Open in the delivery log</Link> for every delivery and its trace.
              </p>
            </>
          )
        }
      </Loaded>
    </section>
  );
}

