// One subscriber: profile, endpoints and preferences, their inbox as they see it (read
// or not, the unread count) and their delivery history on every channel. Operators who
// may write edit the profile, add and remove endpoints, and delete the subscriber.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, fieldError } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, ErrorNotice, Field, Loaded, PageHeader } from "../ui/kit";
import { useToast } from "../ui/toasts";
import { DeliveryHistory } from "./subscribers/DeliveryHistory";
import { Inbox } from "./subscribers/Inbox";
import { ProfileForm } from "./subscribers/ProfileForm";

export function SubscriberDetail({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { can } = useSession();
  const toast = useToast();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const subscriber = useApi(() => call(api.GET("/v1/subscribers/{external_id}", { params: { path: { external_id: id } } })), [id]);
  const write = can("subscribers:write");

  const remove = async () => {
    const question =
      `Delete subscriber ${id}? Their profile, endpoints, preferences and inbox are deleted; ` +
      "their deliveries stay in the log and the reports, anonymised.";
    if (!window.confirm(question)) return;
    setDeleting(true);
    try {
      await call(api.DELETE("/v1/subscribers/{external_id}", { params: { path: { external_id: id } } }));
      toast.success(`Subscriber ${id} deleted.`);
      navigate("/subscribers");
    } catch (failure) {
      toast.failure(failure);
      setDeleting(false);
    }
  };

  return (
    <>
      <PageHeader title={`Subscriber ${id}`} subtitle="Profile, endpoints and preferences, the inbox and every delivery.">
        <a href={`/v1/subscribers/${encodeURIComponent(id)}/export`} download={`subscriber-${id}.json`}>
          Export their data (JSON)
        </a>
        {write && (
          <Button kind="danger" busy={deleting} onClick={() => void remove()}>
            Delete subscriber
          </Button>
        )}
        <Link to="/subscribers">All subscribers</Link>
      </PageHeader>
      <Loaded state={subscriber} what="the subscriber">
        {(s) => (
          <div className="split split-even">
            {editing ? (
              <ProfileForm
                existing={s}
                saved={(stored) => {
                  subscriber.setData(stored);
                  setEditing(false);
                }}
                cancel={() => setEditing(false)}
              />
            ) : (
              <Profile subscriber={s} edit={write ? () => setEditing(true) : undefined} />
            )}
            <Endpoints id={id} />
          </div>
        )}
      </Loaded>
      <Inbox subscriber={id} />
      <DeliveryHistory subscriber={id} title="Delivery history" empty="Nothing was sent to this subscriber yet." />
    </>
  );
}

function Profile({ subscriber: s, edit }: { subscriber: Schemas["SubscriberOut"]; edit?: () => void }) {
  return (
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
      {edit && (
        <div className="form-actions">
          <Button onClick={edit}>Edit profile</Button>
        </div>
      )}
    </section>
  );
}

function Endpoints({ id }: { id: string }) {
  const { can } = useSession();
  const toast = useToast();
  const endpoints = useApi(() => call(api.GET("/v1/subscribers/{external_id}/endpoints", { params: { path: { external_id: id } } })), [id]);
  const removeEndpoint = async (endpoint: Schemas["EndpointOut"]) => {
    if (!window.confirm(`Remove the ${endpoint.channel} endpoint ${endpoint.address}?`)) return;
    try {
      await call(
        api.DELETE("/v1/subscribers/{external_id}/endpoints/{endpoint_id}", {
          params: { path: { external_id: id, endpoint_id: endpoint.id } },
        }),
      );
      toast.success(`The ${endpoint.channel} endpoint was removed.`);
      endpoints.reload();
    } catch (failure) {
      toast.failure(failure);
    }
  };
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
                  {can("subscribers:write") && (
                    <Button kind="ghost" aria-label={`Remove the ${e.channel} endpoint ${e.address}`} onClick={() => void removeEndpoint(e)}>
                      Remove
                    </Button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      {can("subscribers:write") && <NewEndpoint id={id} added={endpoints.reload} />}
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

function NewEndpoint({ id, added }: { id: string; added: () => void }) {
  const toast = useToast();
  const [channel, setChannel] = useState<Schemas["EndpointChannel"]>("webhook");
  const [provider, setProvider] = useState<Schemas["PushProvider"]>("fcm");
  const [address, setAddress] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(
        api.POST("/v1/subscribers/{external_id}/endpoints", {
          params: { path: { external_id: id } },
          body: { channel, provider: channel === "push" ? provider : null, address: address.trim() },
        }),
      );
      toast.success(`The ${channel} endpoint was added.`);
      setAddress("");
      added();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const known = ["channel", "provider", "address"];
  const hint = { webhook: "An https URL.", push: "The device token the provider gave the app.", mqtt: "A topic, e.g. devices/42/inbox." }[channel];
  return (
    <form onSubmit={submit} aria-label="New endpoint" noValidate>
      <h3>Add an endpoint</h3>
      {error && !known.some((f) => fieldError(error, f)) ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="Endpoint channel" error={fieldError(error, "channel")}>
          {(p) => (
            <select {...p} value={channel} onChange={(e) => setChannel(e.target.value as Schemas["EndpointChannel"])}>
              <option value="webhook">webhook</option>
              <option value="push">push</option>
              <option value="mqtt">mqtt</option>
            </select>
          )}
        </Field>
        {channel === "push" && (
          <Field label="Provider" error={fieldError(error, "provider")}>
            {(p) => (
              <select {...p} value={provider} onChange={(e) => setProvider(e.target.value as Schemas["PushProvider"])}>
                <option value="fcm">FCM</option>
                <option value="apns">APNs</option>
                <option value="jpush">JPush</option>
              </select>
            )}
          </Field>
        )}
      </div>
      <Field label="Address" error={fieldError(error, "address")} hint={hint}>
        {(p) => <input {...p} value={address} onChange={(e) => setAddress(e.target.value)} />}
      </Field>
      <div className="form-actions">
        <Button type="submit" busy={busy}>
          Add endpoint
        </Button>
      </div>
    </form>
  );
}

export function NewSubscriber() {
  return (
    <>
      <PageHeader title="New subscriber" subtitle="Product services usually register users through the API; this adds one by hand.">
        <Link to="/subscribers">All subscribers</Link>
      </PageHeader>
      <ProfileForm saved={(s) => navigate(`/subscribers/${encodeURIComponent(s.external_id)}`)} cancel={() => navigate("/subscribers")} />
    </>
  );
}
