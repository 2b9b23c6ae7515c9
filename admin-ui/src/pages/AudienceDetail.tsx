import { useState } from "react";
import { api } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { count, label, when } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Loaded, Loading, PageHeader } from "../ui/kit";
import { describeSegment } from "../ui/segment";

export function AudienceDetail({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const { can } = useSession();
  const audience = useApi(() => call(api.GET("/v1/audiences/{id}", { params: { path: { id } } })), [id]);
  const size = useApi(() => call(api.GET("/v1/audiences/{id}/count", { params: { path: { id } } })), [id]);
  const sample = useApi(() => call(api.GET("/v1/audiences/{id}/sample", { params: { path: { id }, query: { limit: 20 } } })), [id]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const remove = async () => {
    if (!window.confirm("Delete this audience? Campaigns that use it keep it from being deleted.")) return;
    setBusy(true);
    try {
      await call(api.DELETE("/v1/audiences/{id}", { params: { path: { id } } }));
      navigate("/audiences");
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <Loaded state={audience} what="the audience">
      {(a) => (
        <>
          <PageHeader title={a.name} subtitle={`${label(a.kind)} audience · created ${when(a.created_at)}`}>
            <Link to="/audiences" className="btn btn-ghost">
              All audiences
            </Link>
            {can("audiences:write") && (
              <Button kind="danger" onClick={() => void remove()} busy={busy}>
                Delete
              </Button>
            )}
          </PageHeader>
          <ErrorNotice error={error} />
          <div className="stats">
            <div className="stat">
              <span className="stat-value">{size.data ? count(size.data.count) : "…"}</span>
              <span className="stat-label">subscribers now</span>
            </div>
          </div>
          {size.error ? <ErrorNotice error={size.error} /> : null}
          {a.kind === "segment" && (
            <section className="card">
              <h2>Segment</h2>
              <p>{describeSegment(a.segment)}</p>
            </section>
          )}
          <section className="card">
            <h2>Some members</h2>
            {sample.error ? <ErrorNotice error={sample.error} /> : null}
            {!sample.data ? (
              sample.error ? null : <Loading />
            ) : sample.data.length === 0 ? (
              <Empty title="Nobody matches right now." />
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">External id</th>
                      <th scope="col">Email</th>
                      <th scope="col">Time zone</th>
                      <th scope="col">Tags</th>
                    </tr>
                  </thead>
                  <tbody>
                    {sample.data.map((s) => (
                      <tr key={s.external_id}>
                        <td>{s.external_id}</td>
                        <td>{s.email ?? "—"}</td>
                        <td>{s.timezone ?? "—"}</td>
                        <td>{s.tags.join(", ") || "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </Loaded>
  );
}
