// The rules engine run over a campaign's audience without sending: what would go out,
// be filtered (and by which check or rule) or be deferred, with example decisions.
import { useEffect, useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { count, label, when } from "../lib/format";
import { Button, ErrorNotice, Notice } from "./kit";

type Simulation = Schemas["Simulation"];

export function SimulationPanel({ campaignId, auto = false }: { campaignId: number; auto?: boolean }) {
  const [result, setResult] = useState<Simulation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await call(api.POST("/v1/campaigns/{id}/simulate", { params: { path: { id: campaignId } }, body: { sample: 10 } })));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    if (auto) void run();
    // Once per campaign shown; `run` itself is new on every render.
  }, [auto, campaignId]);

  return (
    <section className="card" aria-labelledby="simulate-title" aria-busy={busy}>
      <div className="card-head">
        <h2 id="simulate-title">Simulation</h2>
        <Button onClick={() => void run()} busy={busy}>
          {result ? "Simulate again" : "Simulate"}
        </Button>
      </div>
      {!result && !busy && !error && <p className="muted">Runs the delivery rules over the audience now, without sending anything.</p>}
      <ErrorNotice error={error} title="Simulation failed:" />
      {result && <SimulationResult result={result} />}
    </section>
  );
}

function SimulationResult({ result }: { result: Simulation }) {
  return (
    <div aria-live="polite">
      <p className="muted">Decided at {when(result.at)}.</p>
      <div className="stats stats-compact">
        <div className="stat">
          <span className="stat-value">{count(result.subscribers)}</span>
          <span className="stat-label">subscribers</span>
        </div>
        <div className="stat tone-success">
          <span className="stat-value">{count(result.allowed)}</span>
          <span className="stat-label">would be sent</span>
        </div>
        <div className="stat tone-muted">
          <span className="stat-value">{count(result.filtered)}</span>
          <span className="stat-label">filtered</span>
        </div>
        <div className="stat tone-deferred">
          <span className="stat-value">{count(result.deferred)}</span>
          <span className="stat-label">deferred</span>
        </div>
      </div>
      {result.deliveries === 0 && <Notice kind="warning">The audience selects nobody: nothing would be sent.</Notice>}
      {result.channels.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Per channel</caption>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col" className="num">Sent</th>
                <th scope="col" className="num">Filtered</th>
                <th scope="col" className="num">Deferred</th>
              </tr>
            </thead>
            <tbody>
              {result.channels.map((c) => (
                <tr key={c.channel}>
                  <th scope="row">{c.channel}</th>
                  <td className="num">{count(c.allowed)}</td>
                  <td className="num">{count(c.filtered)}</td>
                  <td className="num">{count(c.deferred)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(result.filtered_by.length > 0 || result.deferred_by.length > 0) && (
        <ul className="reasons">
          {result.filtered_by.map((f) => (
            <li key={`f-${f.filter}-${f.rule_id ?? ""}`}>
              <strong>{count(f.count)}</strong> filtered: {label(f.filter)}
              {f.rule_name ? ` (rule “${f.rule_name}”)` : ""}
            </li>
          ))}
          {result.deferred_by.map((d) => (
            <li key={`d-${d.rule_id}-${d.hour}`}>
              <strong>{count(d.count)}</strong> deferred to {when(d.hour)}
              {d.rule_name ? ` by rule “${d.rule_name}”` : ""}
            </li>
          ))}
        </ul>
      )}
      {result.sample.length > 0 && (
        <details className="sample">
          <summary>Example decisions ({result.sample.length})</summary>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Subscriber</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {result.sample.map((s, i) => (
                  <tr key={i}>
                    <td>{s.external_id}</td>
                    <td>{s.channel}</td>
                    <td>{s.decision}</td>
                    <td>
                      {s.decision === "filtered" ? `${label(s.filter)}: ${s.reason}` : s.decision === "deferred" ? `until ${when(s.until)}` : "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      )}
    </div>
  );
}
