// Channel instances (SMTP, webhook, push providers, MQTT) configured at run time:
// secrets are write-only (the list says which are set), and a test send shows what
// the provider answered.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { when } from "../lib/format";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, PageHeader } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";
import { NewChannel } from "./channels/NewChannel";
import { KindSettings, isFormKind, settingsFrom, valuesFrom, type FormKind, type Values } from "./channels/KindSettings";
import { useToast } from "../ui/toasts";

export function Channels() {
  const listing = useListing("name");
  const channels = useApi(() => call(api.GET("/v1/channels", { params: { query: listing.query } })), listing.deps);
  return (
    <>
      <PageHeader title="Channels" subtitle="Where messages go out. The worker sends through the first enabled instance of each kind." />
      <ListFilters listing={listing} />
      <Loaded state={channels} what="channels">
        {(all) => (
          <Listed
            rows={all}
            listing={listing}
            what="channel instance"
            none={
              <Empty title="No channel instances yet.">
                <p>Inbox messages need none; email, webhook, push and MQTT do.</p>
              </Empty>
            }
          >
            {(list) => list.map((c) => <ChannelCard key={c.id} channel={c} changed={channels.reload} />)}
          </Listed>
        )}
      </Loaded>
      <NewChannel created={channels.reload} />
      <Pacing />
    </>
  );
}

/// The pace of each lane (instance and receiving host) a receiver pushed back on,
/// as the workers last published it.
function Pacing() {
  const lanes = useApi(() => call(api.GET("/v1/pacing")), []);
  return (
    <section aria-labelledby="pacing-title">
      <h2 id="pacing-title">Pacing</h2>
      <p className="muted">
        Sends go out as fast as receivers take them. When a receiver pushes back (429, SMTP 421, Retry-After, a timeout), the worker sends to that host
        at half the rate it accepted, then speeds up step by step. Lanes not listed are unpaced.
      </p>
      <Loaded state={lanes} what="pacing">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No receiver has pushed back lately." />
          ) : (
            <div className="table-wrap card">
              <table className="stack-table">
                <thead>
                  <tr>
                    <th scope="col">Instance</th>
                    <th scope="col">Host</th>
                    <th scope="col" className="num">
                      Pace
                    </th>
                    <th scope="col">Last push-back</th>
                    <th scope="col">Worker</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((l) => (
                    <tr key={`${l.worker}/${l.instance}/${l.host}`}>
                      <td data-label="Instance">{l.instance}</td>
                      <td data-label="Host">{l.host || "—"}</td>
                      <td data-label="Pace" className="num">
                        {l.rate_per_sec == null ? "unpaced" : `${l.rate_per_sec.toFixed(1)}/s`}
                      </td>
                      <td data-label="Last push-back">{when(l.throttled_at)}</td>
                      <td data-label="Worker">{l.worker}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}

function ChannelCard({ channel: c, changed }: { channel: Schemas["ChannelInstanceOut"]; changed: () => void }) {
  const [to, setTo] = useState("");
  const [result, setResult] = useState<Schemas["TestSendOut"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const formKind: FormKind | null = isFormKind(c.kind) ? c.kind : null;
  const test = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await call(api.POST("/v1/channels/{name}/test", { params: { path: { name: c.name } }, body: { to, subject: "Herald test", body: "A test message from Herald." } })));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const name = { params: { path: { name: c.name } } };
  const toggle = async () => {
    setError(null);
    try {
      // Secrets left out of an update keep their stored values.
      await call(api.PUT("/v1/channels/{name}", { ...name, body: { name: c.name, settings: c.settings, enabled: !c.enabled } }));
      toast.success(c.enabled ? "Channel instance switched off." : "Channel instance switched on.");
      changed();
    } catch (e) {
      setError(e);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the channel instance “${c.name}”? Its secrets are lost.`)) return;
    setError(null);
    try {
      await call(api.DELETE("/v1/channels/{name}", name));
      toast.success("Channel instance deleted.");
      changed();
    } catch (e) {
      setError(e);
    }
  };
  const outcome = result ? String((result as Record<string, unknown>).outcome ?? "") : "";
  return (
    <section className="card" aria-labelledby={`channel-${c.id}`}>
      <div className="card-head">
        <h2 id={`channel-${c.id}`}>
          {c.name} <span className="badge badge-neutral">{c.kind}</span> {!c.enabled && <span className="badge badge-danger">disabled</span>}
        </h2>
        <div className="card-actions">
          <span className="muted small">updated {when(c.updated_at)}</span>
          {formKind && !editing && (
            <Button kind="ghost" onClick={() => setEditing(true)} aria-label={`Edit the settings of ${c.name}`}>
              Edit settings
            </Button>
          )}
          <Button kind="ghost" onClick={() => void toggle()}>
            {c.enabled ? "Disable" : "Enable"}
          </Button>
          <Button kind="ghost" onClick={() => void remove()} aria-label={`Delete ${c.name}`}>
            Delete
          </Button>
        </div>
      </div>
      {formKind && editing ? (
        <EditSettings
          channel={c}
          kind={formKind}
          done={(saved) => {
            setEditing(false);
            if (saved) changed();
          }}
        />
      ) : (
        <Settings settings={c.settings} secrets={c.secrets_set} />
      )}
      <form onSubmit={test} aria-label={`Test ${c.name}`}>
        <Field label="Send a test to" hint="An email address, webhook URL, device token or MQTT topic.">
          {(p) => (
            <div className="input-with-button">
              <input {...p} value={to} onChange={(e) => setTo(e.target.value)} />
              <Button type="submit" busy={busy} disabled={!to}>
                Send test
              </Button>
            </div>
          )}
        </Field>
      </form>
      <ErrorNotice error={error} />
      {result && (
        <div className={`notice notice-${outcome === "delivered" ? "success" : "warning"}`} role="status">
          <strong>Test {outcome || "sent"}.</strong>{" "}
          {Object.entries(result)
            .filter(([k, v]) => k !== "outcome" && v !== null && v !== "")
            .map(([k, v]) => `${k.replace(/_/g, " ")}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" · ")}
        </div>
      )}
    </section>
  );
}

/// An instance's settings in labelled fields (any kind but webhook); its secrets stay
/// unless replaced or removed.
function EditSettings({ channel: c, kind, done }: { channel: Schemas["ChannelInstanceOut"]; kind: FormKind; done: (saved: boolean) => void }) {
  const [values, setValues] = useState<Values>(() => valuesFrom(kind, c.settings));
  const [clear, setClear] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const made = settingsFrom(kind, values, clear, c.secrets_set);
    if ("problem" in made) {
      setError(new Error(made.problem));
      return;
    }
    setBusy(true);
    try {
      await call(api.PUT("/v1/channels/{name}", { params: { path: { name: c.name } }, body: { name: c.name, settings: made.settings, enabled: c.enabled } }));
      toast.success("Settings saved.");
      done(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="edit-settings" onSubmit={save} aria-label={`Settings of ${c.name}`} noValidate>
      <ErrorNotice error={error} />
      <KindSettings kind={kind} values={values} onChange={setValues} secretsSet={c.secrets_set} clear={clear} onClear={setClear} />
      <div className="form-actions">
        <Button onClick={() => done(false)}>Cancel</Button>
        <Button kind="primary" type="submit" busy={busy}>
          Save settings
        </Button>
      </div>
    </form>
  );
}

/// The instance's plain settings at a glance; nested ones (HTTP tuning…) folded away.
function Settings({ settings, secrets }: { settings: Record<string, unknown>; secrets: string[] }) {
  const plain = Object.entries(settings).filter(([k, v]) => k !== "kind" && (typeof v !== "object" || Array.isArray(v)));
  return (
    <>
      <dl className="trace-why">
        {plain.map(([k, v]) => (
          <div key={k} className="contents">
            <dt>{k.replace(/_/g, " ")}</dt>
            <dd>{Array.isArray(v) ? v.join(", ") || "—" : String(v)}</dd>
          </div>
        ))}
        <div className="contents">
          <dt>secrets set</dt>
          <dd>{secrets.join(", ") || "none"}</dd>
        </div>
      </dl>
      <details className="chart-table">
        <summary>All settings</summary>
        <pre className="rendered-text">{JSON.stringify(settings, null, 2)}</pre>
      </details>
    </>
  );
}
