// Delivery outcomes counted by the chosen keys, as a table, with its CSV download.
import { csvUrl, outcomes, type GroupKey, type OutcomeRow, type ReportFilter } from "../../api/reports";
import { count, label } from "../../lib/format";
import { Link } from "../../lib/router";
import { freshOnly, useApi } from "../../lib/useApi";
import { CsvLink } from "../../ui/CsvLink";
import { Empty, Loaded, StatusBadge } from "../../ui/kit";

function cell(row: OutcomeRow, key: GroupKey) {
  switch (key) {
    case "campaign":
      return row.campaign_id == null ? <span className="muted">transactional</span> : <Link to={`/campaigns/${row.campaign_id}`}>{row.campaign_name}</Link>;
    case "channel":
      return row.channel;
    case "day":
      return row.day;
    case "status":
      return row.status ? <StatusBadge status={row.status} /> : "—";
  }
}

export function Outcomes({ filter, groupBy }: { filter: ReportFilter; groupBy: GroupKey[] }) {
  const report = useApi(() => outcomes(filter, groupBy), [JSON.stringify(filter), groupBy.join(",")]);
  return (
    <section className="card" aria-labelledby="outcomes-title">
      <div className="card-head">
        <h2 id="outcomes-title">Outcomes by {groupBy.map(label).join(", ").toLowerCase()}</h2>
        <CsvLink what="outcomes" href={csvUrl("/v1/reports/deliveries", { ...filter, group_by: groupBy.join(",") })} />
      </div>
      <Loaded state={freshOnly(report)} what="the outcomes">
        {(r) =>
          r.rows.length === 0 ? (
            <Empty title="No deliveries match these filters." />
          ) : (
            <div className="table-wrap">
              <table className="stack-table">
                <caption className="visually-hidden">Delivery outcomes</caption>
                <thead>
                  <tr>
                    {r.group_by.map((key) => (
                      <th key={key} scope="col">
                        {label(key)}
                      </th>
                    ))}
                    <th scope="col" className="num">
                      Deliveries
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {r.rows.map((row) => (
                    <tr key={r.group_by.map((k) => JSON.stringify(row[k === "campaign" ? "campaign_id" : k])).join("|")}>
                      {r.group_by.map((key) => (
                        <td key={key} data-label={label(key)}>
                          {cell(row, key)}
                        </td>
                      ))}
                      <td className="num" data-label="Deliveries">
                        {count(row.count)}
                      </td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row" colSpan={r.group_by.length}>
                      Total
                    </th>
                    <td className="num">
                      <strong>{count(r.total)}</strong>
                    </td>
                  </tr>
                </tfoot>
              </table>
            </div>
          )
        }
      </Loaded>
    </section>
  );
}
