// The rule being edited, tried on the delivery log of the last days before it is
// enabled: what it would have held back or deferred, by channel and by day, with some
// of the subscribers it would have affected.
import { useState } from "react";
import { api, type Schemas } from "../../api/client";
import { call, fieldError } from "../../api/errors";
import { count } from "../../lib/format";
import { Button, ErrorNotice, Field } from "../../ui/kit";

export function Backtest({ draft }: { draft: () => Schemas["RuleIn"] }) {
  const [days, setDays] = useState("7");
  const [result, setResult] = useState<Schemas["BacktestOut"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await call(api.POST("/v1/rules/backtest", { body: { days: Number(days), rules: [draft()] } })));
    } catch (failure) {
      setResult(null);
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const effect = result?.rules[0];
  return (
    <section className="card" aria-labelledby="backtest-title">
      <h2 id="backtest-title">Try it on the delivery log</h2>
      <p className="muted">
        Replays what was sent over the last days through this rule as it stands in the form, saved or not: what it would have held back or
        deferred. Frequency caps, quiet hours, dedup windows and fatigue budgets; keyword rules are checked when content is written.
      </p>
      {error && !fieldError(error, "days") ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="Days of the log" error={fieldError(error, "days")} hint="1 to 90, up to now.">
          {(p) => <input {...p} type="number" min={1} max={90} value={days} onChange={(e) => setDays(e.target.value)} />}
        </Field>
      </div>
      <div className="form-actions">
        <Button onClick={() => void run()} busy={busy}>
          Backtest
        </Button>
      </div>
      {result && effect && (
        <div role="status">
          <p>
            Of <strong>{count(result.examined)}</strong> deliveries sent in the last {days} days, this rule would have held back{" "}
            <strong>{count(effect.held)}</strong> and deferred <strong>{count(effect.deferred)}</strong>.
          </p>
          {(effect.held > 0 || effect.deferred > 0) && (
            <div className="split split-even">
              <table aria-label="By channel">
                <thead>
                  <tr>
                    <th scope="col">Channel</th>
                    <th scope="col">Held back</th>
                    <th scope="col">Deferred</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(effect.by_channel).map(([channel, [held, deferred]]) => (
                    <tr key={channel}>
                      <td>{channel}</td>
                      <td>{count(held)}</td>
                      <td>{count(deferred)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <table aria-label="By day">
                <thead>
                  <tr>
                    <th scope="col">Day (UTC)</th>
                    <th scope="col">Held back</th>
                    <th scope="col">Deferred</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(effect.by_day).map(([day, [held, deferred]]) => (
                    <tr key={day}>
                      <td>{day}</td>
                      <td>{count(held)}</td>
                      <td>{count(deferred)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {effect.samples.length > 0 && <p className="small">For example: {effect.samples.join(", ")}.</p>}
        </div>
      )}
    </section>
  );
}
