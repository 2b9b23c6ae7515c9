// Why deliveries were filtered: per check and the rule that decided, with its CSV.
import { csvUrl, filtered, type ReportFilter } from "../../api/reports";
import { count, label, percent } from "../../lib/format";
import { freshOnly, useApi } from "../../lib/useApi";
import { CsvLink } from "../../ui/CsvLink";
import { Empty, Loaded } from "../../ui/kit";

export function FilteredBreakdown({ filter }: { filter: ReportFilter }) {
  const rows = useApi(() => filtered(filter), [JSON.stringify(filter)]);
  return (
    <section className="card" aria-labelledby="filtered-title">
      <div className="card-head">
        <h2 id="filtered-title">Why deliveries were filtered</h2>
        <CsvLink what="the filtered deliveries" href={csvUrl("/v1/reports/filtered", { ...filter, status: undefined })} />
      </div>
      <Loaded state={freshOnly(rows)} what="the filter breakdown">
        {(list) => {
          const total = list.reduce((sum, r) => sum + r.count, 0);
          return list.length === 0 ? (
            <Empty title="Nothing was filtered." />
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Filtered deliveries per check and rule</caption>
                <thead>
                  <tr>
                    <th scope="col">Check</th>
                    <th scope="col">Rule</th>
                    <th scope="col" className="num">
                      Deliveries
                    </th>
                    <th scope="col" className="num">
                      Share
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={`${r.filter}-${r.rule_id ?? ""}`}>
                      <td>{label(r.filter)}</td>
                      <td>{r.rule_name ?? (r.rule_id ? `#${r.rule_id}` : <span className="muted">—</span>)}</td>
                      <td className="num">{count(r.count)}</td>
                      <td className="num">{percent(r.count, total)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Loaded>
    </section>
  );
}
