// One subscriber: profile, endpoints and preferences, their inbox as they see it (read
// or not, the unread count) and their delivery history on every channel.
import { api } from "../api/client";
import { call } from "../api/errors";
import { when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Loaded, PageHeader } from "../ui/kit";
import { DeliveryHistory } from "./subscribers/DeliveryHistory";
import { Inbox } from "./subscribers/Inbox";

export function SubscriberDetail({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const subscriber = useApi(() => call(api.GET("/v1/subscribers/{external_id}", { params: { path: { external_id: id } } })), [id]);
  return (
    <>
      <PageHeader title={`Subscriber ${id}`} subtitle="Profile, endpoints and preferences, the inbox and every delivery.">
        <a href={`/v1/subscribers/${encodeURIComponent(id)}/export`} download={`subscriber-${id}.json`}>
          Export their data (JSON)
        </a>
        <Link to="/subscribers">All subscribers</Link>
      </PageHeader>
      <Loaded state={subscriber} what="the subscriber">
        {(s) => (
          <div className="split split-even">
            <section className="card" aria-labelledby="profile-title">
              <h2 id="profile-title">Profile</h2>
              <dl className="trace-why">
                <dt>Email</dt>
                <dd>{s.email ?? "—"}</dd>
                <dt>Phone</dt>
                <dd>{s.phone ?? "—"}</dd>
                <dt>Time zone</dt>
                <dd>{s.timezone ?? "—"}</dd>
                <dt>Locale</dt>
                <dd>{s.locale ?? "—"}</dd>
                <dt>Tags</dt>
                <dd>{s.tags.join(", ") || "—"}</dd>
                <dt>Attributes</dt>
                <dd>{Object.keys(s.attributes ?? {}).length ? <code>{JSON.stringify(s.attributes)}</code> : "—"}</dd>
                <dt>Registered</dt>
                <dd>{when(s.created_at)}</dd>
              </dl>
            </section>
            <Endpoints id={id} />
          </div>
        )}
      </Loaded>
      <Inbox subscriber={id} />
      <DeliveryHistory subscriber={id} title="Delivery history" empty="Nothing was sent to this subscriber yet." />
    </>
  );
}

function Endpoints({ id }: { id: string }) {
  const endpoints = useApi(() => call(api.GET("/v1/subscribers/{external_id}/endpoints", { params: { path: { external_id: id } } })), [id]);
  const preferences = useApi(() => call(api.GET("/v1/subscribers/{external_id}/preferences", { params: { path: { external_id: id } } })), [id]);
  return (
    <section className="card" aria-labelledby="endpoints-title">
      <h2 id="endpoints-title">Endpoints and preferences</h2>
      <Loaded state={endpoints} what="endpoints">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No push, webhook or MQTT endpoints.</p>
          ) : (
            <ul className="plain-list">
              {list.map((e) => (
                <li key={e.id}>
                  <strong>{e.channel}</strong>
                  {e.provider ? ` (${e.provider})` : ""} <code>{e.address}</code>
                  {!e.enabled && <span className="badge badge-danger">disabled{e.disabled_reason ? `: ${e.disabled_reason}` : ""}</span>}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      <Loaded state={preferences} what="preferences">
        {(p) =>
          p.preferences.filter((x) => x.opted_out).length === 0 ? (
            <p className="muted">Not opted out of anything.</p>
          ) : (
            <ul className="plain-list">
              {p.preferences
                .filter((x) => x.opted_out)
                .map((x) => (
                  <li key={`${x.channel}-${x.category}`}>
                    Opted out of {x.category === "*" ? "every category" : x.category} on {x.channel === "*" ? "every channel" : x.channel}
                  </li>
                ))}
            </ul>
          )
        }
      </Loaded>
    </section>
  );
}
