// Delivery events to products: endpoints that receive signed batches of what happened to
// deliveries, the events and channels each wants, and the log of batches sent to it
// (with re-drive of the dead ones). The signing secret is shown once, at registration.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, fieldError } from "../api/errors";
import { when } from "../lib/format";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, Notice, PageHeader, StatusBadge } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";
import { useToast } from "../ui/toasts";

type Endpoint = Schemas["EventEndpointOut"];
type EventType = Schemas["EventType"];
type Channel = Schemas["ChannelKind"];

const EVENT_TYPES: [EventType, string][] = [
  ["delivery.delivered", "Delivered"],
  ["delivery.failed", "Failed"],
  ["delivery.dead_lettered", "Dead-lettered"],
  ["inbox.read", "Read in the inbox"],
  ["inbox.dismissed", "Dismissed from the inbox"],
  ["subscriber.unsubscribed", "Unsubscribed"],
  ["message.recalled", "Recalled"],
];
const CHANNELS: Channel[] = ["inbox", "email", "push", "webhook", "mqtt"];

export function EventEndpoints() {
  const listing = useListing("oldest");
  const endpoints = useApi(() => call(api.GET("/v1/event-endpoints", { params: { query: listing.query } })), listing.deps);
  const [created, setCreated] = useState<Schemas["CreatedEventEndpoint"] | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const toast = useToast();

  const toggle = async (endpoint: Endpoint) => {
    const body = {
      url: endpoint.url,
      description: endpoint.description,
      event_types: endpoint.event_types,
      channels: endpoint.channels,
      enabled: !endpoint.enabled,
    };
    try {
      await call(api.PUT("/v1/event-endpoints/{id}", { params: { path: { id: endpoint.id } }, body }));
      toast.success(`${endpoint.url} turned ${endpoint.enabled ? "off" : "on"}.`);
      endpoints.reload();
    } catch (e) {
      toast.failure(e);
    }
  };

  const remove = async (endpoint: Endpoint) => {
    if (!window.confirm(`Remove the endpoint ${endpoint.url}? What waits for it and its log go too.`)) return;
    try {
      await call(api.DELETE("/v1/event-endpoints/{id}", { params: { path: { id: endpoint.id } } }));
      if (open === endpoint.id) setOpen(null);
      toast.success(`${endpoint.url} removed.`);
      endpoints.reload();
    } catch (e) {
      toast.failure(e);
    }
  };

  return (
    <>
      <PageHeader
        title="Event endpoints"
        subtitle="Products receive what happened to their deliveries (delivered, failed, dead-lettered, read, dismissed, unsubscribed, recalled) in batches of up to 100 events, signed per Standard Webhooks and retried on the delivery schedule. Deduplicate on each event's id: delivery is at least once."
      />
      {created && (
        <Notice kind="success">
          <p>Endpoint {created.url} registered. Copy its signing secret now: it is not shown again.</p>
          <p className="secret">
            <code>{created.secret}</code>{" "}
            <Button kind="ghost" onClick={() => void navigator.clipboard?.writeText(created.secret)}>
              Copy
            </Button>
          </p>
        </Notice>
      )}
      <ListFilters listing={listing} field="URL" />
      <Loaded state={endpoints} what="event endpoints">
        {(all) => (
          <Listed
            rows={all}
            listing={listing}
            what="event endpoint"
            none={
              <Empty title="No event endpoints yet.">
                <p>Register one below, or from a product with an API key holding events:manage.</p>
              </Empty>
            }
          >
            {(list) => (
            <div className="table-wrap card">
              <table className="stack-table" aria-label="Event endpoints">
                <thead>
                  <tr>
                    <th scope="col">URL</th>
                    <th scope="col">Events</th>
                    <th scope="col">Channels</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((endpoint) => (
                    <EndpointRow
                      key={endpoint.id}
                      endpoint={endpoint}
                      open={open === endpoint.id}
                      onOpen={() => setOpen(open === endpoint.id ? null : endpoint.id)}
                      onToggle={() => void toggle(endpoint)}
                      onRemove={() => void remove(endpoint)}
                    />
                  ))}
                </tbody>
              </table>
            </div>
            )}
          </Listed>
        )}
      </Loaded>
      {open !== null && <BatchLog endpointId={open} />}
      <NewEndpoint
        created={(endpoint) => {
          setCreated(endpoint);
          toast.success(`Endpoint ${endpoint.url} registered.`);
          endpoints.reload();
        }}
      />
    </>
  );
}

function EndpointRow({
  endpoint,
  open,
  onOpen,
  onToggle,
  onRemove,
}: {
  endpoint: Endpoint;
  open: boolean;
  onOpen: () => void;
  onToggle: () => void;
  onRemove: () => void;
}) {
  return (
    <tr>
      <td data-label="URL">
        <code>{endpoint.url}</code>
        {endpoint.description && <div className="muted small">{endpoint.description}</div>}
      </td>
      <td data-label="Events" className="small">
        {endpoint.event_types.join(", ")}
      </td>
      <td data-label="Channels">{endpoint.channels.length === 0 ? "every channel" : endpoint.channels.join(", ")}</td>
      <td data-label="State">
        {endpoint.enabled ? "on" : "off"}
        {endpoint.disabled_reason && <div className="muted small">{endpoint.disabled_reason}</div>}
      </td>
      <td>
        <div className="actions">
          <Button onClick={onOpen}>{open ? "Hide batches" : "Batches"}</Button>
          <Button onClick={onToggle}>{endpoint.enabled ? "Turn off" : "Turn on"}</Button>
          <Button kind="danger" onClick={onRemove}>
            Remove
          </Button>
        </div>
      </td>
    </tr>
  );
}

function BatchLog({ endpointId }: { endpointId: number }) {
  const batches = useApi(
    () => call(api.GET("/v1/event-endpoints/{id}/batches", { params: { path: { id: endpointId }, query: { limit: 50 } } })),
    [endpointId],
    { pollMs: 5000 },
  );
  const toast = useToast();
  const redrive = async () => {
    try {
      const done = await call(api.POST("/v1/event-endpoints/{id}/redrive", { params: { path: { id: endpointId } } }));
      toast.success(`${done.batches} dead ${done.batches === 1 ? "batch" : "batches"} queued again.`);
      batches.reload();
    } catch (e) {
      toast.failure(e);
    }
  };
  return (
    <section className="card" aria-label="Batches sent">
      <h2>Batches sent</h2>
      <Loaded state={batches} what="batches">
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="Nothing sent yet." />
          ) : (
            <>
              {page.items.some((b) => b.status === "dead") && (
                <div className="form-actions">
                  <Button kind="primary" onClick={() => void redrive()}>
                    Re-drive dead batches
                  </Button>
                </div>
              )}
              <div className="table-wrap">
                <table className="stack-table" aria-label="Batches">
                  <thead>
                    <tr>
                      <th scope="col">Batch</th>
                      <th scope="col">Status</th>
                      <th scope="col">Events</th>
                      <th scope="col">Tries</th>
                      <th scope="col">Last try</th>
                      <th scope="col">Answer</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((batch) => (
                      <tr key={batch.id}>
                        <td data-label="Batch">
                          <code>evb_{batch.id}</code>
                        </td>
                        <td data-label="Status">
                          <StatusBadge status={batch.status} />
                        </td>
                        <td data-label="Events">{batch.event_count}</td>
                        <td data-label="Tries">{batch.attempts}</td>
                        <td data-label="Last try">{when(batch.last_attempt_at)}</td>
                        <td data-label="Answer" className="small">
                          {batch.last_error ?? batch.last_response ?? ""}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function NewEndpoint({ created }: { created: (endpoint: Schemas["CreatedEventEndpoint"]) => void }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [types, setTypes] = useState<EventType[]>(["delivery.delivered", "delivery.failed", "delivery.dead_lettered"]);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const endpoint = await call(
        api.POST("/v1/event-endpoints", {
          body: { url: url.trim(), description: description.trim(), event_types: types, channels, enabled: true },
        }),
      );
      setUrl("");
      setDescription("");
      created(endpoint);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const known = ["url", "description", "event_types", "channels"];
  return (
    <form className="card" onSubmit={submit} aria-label="New event endpoint" noValidate>
      <h2>New endpoint</h2>
      {error && !known.some((f) => fieldError(error, f)) ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="URL" error={fieldError(error, "url")} hint="Where the batches are POSTed (http or https).">
          {(p) => <input {...p} required type="url" value={url} onChange={(e) => setUrl(e.target.value)} />}
        </Field>
        <Field label="Description" error={fieldError(error, "description")} hint="What it is for.">
          {(p) => <input {...p} value={description} maxLength={200} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
      </div>
      <fieldset className="choices inline">
        <legend>Events</legend>
        {EVENT_TYPES.map(([value, label]) => (
          <label key={value} className="check">
            <input
              type="checkbox"
              checked={types.includes(value)}
              onChange={(e) => setTypes(e.target.checked ? [...types, value] : types.filter((t) => t !== value))}
            />{" "}
            {label}
          </label>
        ))}
        {fieldError(error, "event_types") && <p className="field-error">{fieldError(error, "event_types")}</p>}
      </fieldset>
      <fieldset className="choices inline">
        <legend>Channels (none ticked: every channel)</legend>
        {CHANNELS.map((value) => (
          <label key={value} className="check">
            <input
              type="checkbox"
              checked={channels.includes(value)}
              onChange={(e) => setChannels(e.target.checked ? [...channels, value] : channels.filter((c) => c !== value))}
            />{" "}
            {value}
          </label>
        ))}
      </fieldset>
      <div className="form-actions">
        <Button kind="primary" type="submit" busy={busy}>
          Register endpoint
        </Button>
      </div>
    </form>
  );
}
