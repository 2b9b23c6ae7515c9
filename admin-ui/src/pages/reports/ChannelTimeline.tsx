// Outcomes per channel over time: for each channel, a column per UTC day stacked by
// how its deliveries ended, from one report grouped by channel, day and status.
import { csvUrl, outcomes, type OutcomeRow, type ReportFilter } from "../../api/reports";
import { freshOnly, useApi } from "../../lib/useApi";
import { ChartTable, Legend, StackedColumns, type Column, type Tone } from "../../ui/charts";
import { CsvLink } from "../../ui/CsvLink";
import { Empty, Loaded } from "../../ui/kit";

const BUCKETS: { name: string; tone: Tone; statuses: string[] }[] = [
  { name: "delivered", tone: "success", statuses: ["delivered"] },
  { name: "filtered", tone: "muted", statuses: ["filtered"] },
  { name: "failed, dead or expired", tone: "danger", statuses: ["failed", "dead", "expired"] },
  { name: "waiting", tone: "pending", statuses: ["queued", "deferred", "sending"] },
  { name: "cancelled", tone: "neutral", statuses: ["cancelled"] },
];
const GROUP_BY = ["channel", "day", "status"] as const;
const MAX_DAYS = 92;
/// A short period still spans a week, so one day's column is not the chart's width.
const MIN_DAYS = 7;

/// Every day from the first to the last with data (at least MIN_DAYS, at most MAX_DAYS:
/// the latest).
function daysOf(rows: OutcomeRow[]): string[] {
  const seen = rows.map((r) => r.day).filter((d): d is string => Boolean(d)).sort();
  const first = seen[0];
  const last = seen[seen.length - 1];
  if (!first || !last) return [];
  const days: string[] = [];
  const end = Date.parse(`${last}T00:00:00Z`);
  const start = Math.min(Date.parse(`${first}T00:00:00Z`), end - (MIN_DAYS - 1) * 86_400_000);
  for (let t = start; t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days.slice(-MAX_DAYS);
}

function columnsOf(rows: OutcomeRow[], channel: string, days: string[]): Column[] {
  return days.map((day) => ({
    label: day.slice(5),
    parts: BUCKETS.map((b) => ({
      name: b.name,
      tone: b.tone,
      value: rows.filter((r) => r.channel === channel && r.day === day && b.statuses.includes(r.status ?? "")).reduce((s, r) => s + r.count, 0),
    })),
  }));
}

export function ChannelTimeline({ filter }: { filter: ReportFilter }) {
  const report = useApi(() => outcomes(filter, [...GROUP_BY]), [JSON.stringify(filter)]);
  return (
    <section className="card" aria-labelledby="timeline-title">
      <div className="card-head">
        <h2 id="timeline-title">Outcomes per channel over time</h2>
        <CsvLink what="outcomes per channel and day" href={csvUrl("/v1/reports/deliveries", { ...filter, group_by: GROUP_BY.join(",") })} />
      </div>
      <Loaded state={freshOnly(report)} what="outcomes per channel">
        {(r) => {
          const days = daysOf(r.rows);
          const channels = [...new Set(r.rows.map((row) => row.channel ?? ""))].sort();
          if (days.length === 0) return <Empty title="No deliveries in this period." />;
          return (
            <>
              <Legend items={BUCKETS} />
              <div className="chart-grid">
                {channels.map((channel) => (
                  <div key={channel}>
                    <h3>{channel}</h3>
                    <StackedColumns title={`Outcomes on ${channel} per UTC day`} columns={columnsOf(r.rows, channel, days)} />
                    <ChartTable
                      caption={`Outcomes on ${channel}`}
                      head={["Day", ...BUCKETS.map((b) => b.name)]}
                      rows={columnsOf(r.rows, channel, days).map((c, i) => [days[i] ?? c.label, ...c.parts.map((p) => p.value)])}
                    />
                  </div>
                ))}
              </div>
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
