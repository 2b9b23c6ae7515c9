// The kill switch: stop all sending, one channel instance's or one campaign's at once,
// and release the stop. Everyone sees what is stopped; admins and reviewers may stop
// and release.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, fieldError } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, PageHeader } from "../ui/kit";
import { useToast } from "../ui/toasts";

type Halt = Schemas["HaltOut"];
type Scope = Schemas["HaltScope"];

/// Tells the banner that the stops changed, so it shows them without waiting to poll.
export const HALTS_CHANGED = "herald:halts-changed";

export function describeHalt(halt: Halt): string {
  switch (halt.scope) {
    case "all":
      return "All sending";
    case "channel":
      return `Channel ${halt.channel ?? "(deleted instance)"}`;
    case "campaign":
      return `Campaign ${halt.campaign_name ?? `#${halt.campaign_id}`}`;
  }
}

export function KillSwitch() {
  const { can } = useSession();
  const halts = useApi(() => call(api.GET("/v1/halts")), [], { pollMs: 5000 });
  const toast = useToast();
  const [error, setError] = useState<unknown>(null);
  const changed = () => {
    halts.reload();
    window.dispatchEvent(new Event(HALTS_CHANGED));
  };

  const release = async (halt: Halt) => {
    if (!window.confirm(`Release the stop on ${describeHalt(halt).toLowerCase()}? What it held goes out now.`)) return;
    setError(null);
    try {
      await call(api.DELETE("/v1/halts/{id}", { params: { path: { id: halt.id } } }));
      toast.success(`${describeHalt(halt)} released: what waited is going out, each send once.`);
      changed();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <PageHeader
        title="Kill switch"
        subtitle="Stop sending at once: everything, one channel instance, or one campaign. Workers start no such send within a second; sends already under way finish; the rest wait, and go out once each when you release the stop."
      />
      {error ? <ErrorNotice error={error} /> : null}
      <Loaded state={halts} what="stops">
        {(list) =>
          list.length === 0 ? (
            <Empty title="Nothing is stopped.">
              <p>Every channel and campaign sends as scheduled.</p>
            </Empty>
          ) : (
            <div className="table-wrap card">
              <table className="stack-table" aria-label="Stops in force">
                <thead>
                  <tr>
                    <th scope="col">Stopped</th>
                    <th scope="col">Reason</th>
                    <th scope="col">By</th>
                    <th scope="col">Since</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((halt) => (
                    <tr key={halt.id}>
                      <td data-label="Stopped">
                        <strong>{describeHalt(halt)}</strong>
                      </td>
                      <td data-label="Reason">{halt.reason}</td>
                      <td data-label="By">{halt.halted_by}</td>
                      <td data-label="Since">{when(halt.halted_at)}</td>
                      <td>
                        {can("sending:halt") && (
                          <Button kind="primary" onClick={() => void release(halt)}>
                            Release
                          </Button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      {can("sending:halt") ? (
        <StopForm stopped={changed} />
      ) : (
        <p className="muted">Admins and reviewers may stop and release sending.</p>
      )}
    </>
  );
}

function StopForm({ stopped }: { stopped: () => void }) {
  const { can } = useSession();
  const [scope, setScope] = useState<Scope>("all");
  const [channel, setChannel] = useState("");
  const [campaignId, setCampaignId] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const campaigns = useApi(() => call(api.GET("/v1/campaigns")), []);
  // Instance names are for admins (their settings hold secrets); others type the name.
  const channels = useApi(() => (can("channels:manage") ? call(api.GET("/v1/channels")) : Promise.resolve([])), []);
  const sending = (campaigns.data ?? []).filter((c) => ["scheduled", "running", "paused"].includes(c.status));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const what = scope === "all" ? "ALL sending on every channel" : scope === "channel" ? `channel ${channel}` : "this campaign";
    if (!window.confirm(`Stop ${what} now?`)) return;
    setBusy(true);
    setError(null);
    try {
      const halt = await call(
        api.POST("/v1/halts", {
          body: {
            scope,
            reason: reason.trim(),
            channel: scope === "channel" ? channel.trim() : undefined,
            campaign_id: scope === "campaign" && campaignId ? Number(campaignId) : undefined,
          },
        }),
      );
      toast.success(`${describeHalt(halt)} stopped.`);
      setReason("");
      stopped();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const known = ["scope", "channel", "campaign_id", "reason"];
  return (
    <form className="card" onSubmit={submit} aria-label="Stop sending" noValidate>
      <h2>Stop sending</h2>
      {error && !known.some((f) => fieldError(error, f)) ? <ErrorNotice error={error} /> : null}
      <fieldset className="choices inline">
        <legend>What to stop</legend>
        {(
          [
            ["all", "All sending"],
            ["channel", "One channel instance"],
            ["campaign", "One campaign"],
          ] as [Scope, string][]
        ).map(([value, label]) => (
          <label key={value} className="check">
            <input type="radio" name="scope" value={value} checked={scope === value} onChange={() => setScope(value)} /> {label}
          </label>
        ))}
      </fieldset>
      <div className="row">
        {scope === "channel" && (
          <Field label="Channel instance" error={fieldError(error, "channel")} hint="Its name, as on the Channels page.">
            {(p) => (
              <>
                <input {...p} list="halt-channels" value={channel} onChange={(e) => setChannel(e.target.value)} />
                <datalist id="halt-channels">
                  {(channels.data ?? []).map((c) => (
                    <option key={c.id} value={c.name}>
                      {c.kind}
                    </option>
                  ))}
                </datalist>
              </>
            )}
          </Field>
        )}
        {scope === "campaign" && (
          <Field label="Campaign" error={fieldError(error, "campaign_id")} hint="Scheduled, running and paused campaigns.">
            {(p) => (
              <select {...p} value={campaignId} onChange={(e) => setCampaignId(e.target.value)}>
                <option value="">Choose a campaign</option>
                {sending.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name} ({c.status})
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        <Field label="Reason" error={fieldError(error, "reason")} hint="Shown to other operators and kept in the audit log.">
          {(p) => <input {...p} required value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />}
        </Field>
      </div>
      <div className="form-actions">
        <Button kind="danger" type="submit" busy={busy}>
          Stop sending
        </Button>
      </div>
    </form>
  );
}
