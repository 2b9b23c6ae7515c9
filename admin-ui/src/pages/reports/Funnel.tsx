// A funnel per campaign: targeted, handed to a channel, delivered, and where the rest
// stopped; one small chart per campaign, with its CSV download.
import { csvUrl, funnel, type FunnelRow, type ReportFilter } from "../../api/reports";
import { freshOnly, useApi } from "../../lib/useApi";
import { ChartTable, FunnelBars, type Tone } from "../../ui/charts";
import { CsvLink } from "../../ui/CsvLink";
import { Empty, Loaded } from "../../ui/kit";

const nameOf = (row: FunnelRow) => (row.campaign_id == null ? "Transactional messages" : (row.campaign_name ?? `Campaign ${row.campaign_id}`));

function stages(row: FunnelRow): { name: string; value: number; tone: Tone }[] {
  return [
    { name: "Targeted", value: row.targeted, tone: "primary" },
    { name: "Sent", value: row.sent, tone: "primary" },
    { name: "Delivered", value: row.delivered, tone: "success" },
    { name: "Filtered", value: row.filtered, tone: "muted" },
    { name: "Failed or dead", value: row.failed + row.dead, tone: "danger" },
    { name: "Waiting", value: row.queued + row.deferred + row.sending, tone: "pending" },
  ];
}

export function Funnel({ filter }: { filter: ReportFilter }) {
  const rows = useApi(() => funnel(filter), [JSON.stringify(filter)]);
  return (
    <section className="card" aria-labelledby="funnel-title">
      <div className="card-head">
        <h2 id="funnel-title">Funnel per campaign</h2>
        <CsvLink what="the funnel" href={csvUrl("/v1/reports/funnel", { ...filter, status: undefined })} />
      </div>
      <Loaded state={freshOnly(rows)} what="the funnel">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No campaign has deliveries in this period." />
          ) : (
            <>
              <div className="chart-grid">
                {list.map((row) => (
                  <div key={row.campaign_id ?? "transactional"} className="funnel">
                    <h3>{nameOf(row)}</h3>
                    <FunnelBars title={`Funnel of ${nameOf(row)}`} stages={stages(row)} total={row.targeted} />
                  </div>
                ))}
              </div>
              <ChartTable
                caption="Funnel per campaign"
                head={["Campaign", ...stages(list[0] as FunnelRow).map((s) => s.name)]}
                rows={list.map((row) => [nameOf(row), ...stages(row).map((s) => s.value)])}
              />
            </>
          )
        }
      </Loaded>
    </section>
  );
}
