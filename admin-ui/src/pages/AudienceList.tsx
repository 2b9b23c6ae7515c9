import { api } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { count, label, when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, Loaded, PageHeader } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";

export function AudienceList() {
  const { can } = useSession();
  const listing = useListing("name");
  const audiences = useApi(() => call(api.GET("/v1/audiences", { params: { query: listing.query } })), listing.deps);
  return (
    <>
      <PageHeader title="Audiences" subtitle="Who a campaign goes to: everyone, a list of ids, or a segment.">
        {can("audiences:write") && (
          <Link to="/audiences/new" className="btn btn-primary">
            New audience
          </Link>
        )}
      </PageHeader>
      <ListFilters listing={listing} />
      <Loaded state={audiences} what="audiences">
        {(all) => (
          <Listed
            rows={all}
            listing={listing}
            what="audience"
            none={<Empty title="No audiences yet.">{can("audiences:write") && <p>Create one to pick who receives a campaign.</p>}</Empty>}
          >
            {(list) => (
            <div className="table-wrap card">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Kind</th>
                    <th scope="col" className="num">Members</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((a) => (
                    <tr key={a.id}>
                      <td>
                        <Link to={`/audiences/${a.id}`}>{a.name}</Link>
                      </td>
                      <td>{label(a.kind)}</td>
                      <td className="num">{a.kind === "list" || a.kind === "file" ? count(a.member_count) : <span className="muted">live</span>}</td>
                      <td>{when(a.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
          </Listed>
        )}
      </Loaded>
    </>
  );
}
