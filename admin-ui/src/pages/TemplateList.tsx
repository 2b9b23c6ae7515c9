import { api } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, Loaded, PageHeader } from "../ui/kit";

export function TemplateList() {
  const { can } = useSession();
  const templates = useApi(() => call(api.GET("/v1/templates")), []);
  return (
    <>
      <PageHeader title="Templates" subtitle="Versioned content per channel, with variables checked when saved.">
        {can("templates:write") && (
          <Link to="/templates/new" className="btn btn-primary">
            New template
          </Link>
        )}
      </PageHeader>
      <Loaded state={templates} what="templates">
        {(list) =>
          list.length === 0 ? (
            <Empty title="No templates yet.">
              {can("templates:write") ? <p>Create one to write the content of a campaign.</p> : <p>Editors create templates.</p>}
            </Empty>
          ) : (
            <div className="table-wrap card">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Description</th>
                    <th scope="col" className="num">Version</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <Link to={`/templates/${t.id}`}>{t.name}</Link>
                      </td>
                      <td className="muted">{t.description || "—"}</td>
                      <td className="num">v{t.latest_version}</td>
                      <td>{when(t.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </>
  );
}
