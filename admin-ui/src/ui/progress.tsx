// A campaign's live counters as a bar (one segment per final or waiting state) and,
// in full, per channel with the reasons deliveries were filtered or deferred.
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { count, label, percent } from "../lib/format";
import { useApi } from "../lib/useApi";
import { ErrorNotice, ProgressBar } from "./kit";

type Counts = Schemas["Counts"];
type Progress = Schemas["CampaignProgress"];

const LIVE = new Set(["scheduled", "running", "paused"]);

export function parts(counts: Counts) {
  return [
    { name: "delivered", value: counts.delivered, tone: "success" },
    { name: "failed (retrying)", value: counts.failed, tone: "warning" },
    { name: "deferred", value: counts.deferred, tone: "deferred" },
    { name: "filtered", value: counts.filtered, tone: "muted" },
    { name: "dead", value: counts.dead, tone: "danger" },
    { name: "expired or cancelled", value: counts.expired + counts.cancelled, tone: "neutral" },
  ];
}

/// Deliveries that reached a final state.
export const settled = (c: Counts) => c.delivered + c.filtered + c.dead + c.expired + c.cancelled;

export function useProgress(id: number, status: string) {
  return useApi<Progress>(
    () => call(api.GET("/v1/campaigns/{id}/progress", { params: { path: { id } } })),
    [id],
    { pollMs: LIVE.has(status) ? 2000 : undefined },
  );
}

export function ProgressSummary({ progress, name }: { progress: Progress; name: string }) {
  return (
    <div className="progress-summary">
      <ProgressBar parts={parts(progress)} total={progress.targeted} label={`${name}: delivery progress`} />
      <p className="progress-caption">
        {progress.targeted === 0 ? (
          progress.status === "completed" || progress.status === "cancelled" ? "Nothing was sent." : "Waiting to start: no deliveries planned yet."
        ) : (
          <>
            <strong>{count(progress.delivered)}</strong> delivered of {count(progress.targeted)} targeted
        {progress.planned ? "" : " (still planning)"} · {percent(settled(progress), progress.targeted)} settled
            {progress.queued + progress.sending > 0 && <> · {count(progress.queued + progress.sending)} in flight</>}
            {progress.deferred > 0 && <> · {count(progress.deferred)} deferred</>}
          </>
        )}
      </p>
    </div>
  );
}

export function LiveProgress({ id, status, name }: { id: number; status: string; name: string }) {
  const state = useProgress(id, status);
  if (state.error && !state.data) return <ErrorNotice error={state.error} />;
  if (!state.data) return <div className="progress progress-loading" aria-label="Loading progress" />;
  return <ProgressSummary progress={state.data} name={name} />;
}

/// The table's columns: a few states read together to keep it narrow.
const COLUMNS: { name: string; of: (c: Counts) => number }[] = [
  { name: "Targeted", of: (c) => c.targeted },
  { name: "In flight", of: (c) => c.queued + c.sending },
  { name: "Deferred", of: (c) => c.deferred },
  { name: "Delivered", of: (c) => c.delivered },
  { name: "Retrying", of: (c) => c.failed },
  { name: "Filtered", of: (c) => c.filtered },
  { name: "Dead", of: (c) => c.dead },
  { name: "Expired or cancelled", of: (c) => c.expired + c.cancelled },
];

export function ProgressDetail({ progress }: { progress: Progress }) {
  return (
    <>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Deliveries per channel</caption>
          <thead>
            <tr>
              <th scope="col">Channel</th>
              {COLUMNS.map((c) => (
                <th scope="col" key={c.name} className="num">
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {progress.channels.map((channel) => (
              <tr key={channel.channel}>
                <th scope="row">{channel.channel}</th>
                {COLUMNS.map((c) => (
                  <td key={c.name} className="num">
                    {count(c.of(channel))}
                  </td>
                ))}
              </tr>
            ))}
            {progress.channels.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length + 1} className="muted">
                  Nothing planned yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {(progress.filtered_by.length > 0 || progress.deferred_by.length > 0) && (
        <ul className="reasons">
          {progress.filtered_by.map((f) => (
            <li key={`f-${f.filter}-${f.rule_id ?? ""}`}>
              <strong>{count(f.count)}</strong> filtered: {label(f.filter)}
              {f.rule_name ? ` (rule “${f.rule_name}”)` : ""}
            </li>
          ))}
          {progress.deferred_by.map((d) => (
            <li key={`d-${d.rule_id ?? "schedule"}`}>
              <strong>{count(d.count)}</strong> deferred: {d.rule_name ? `rule “${d.rule_name}”` : "local-time schedule"}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
