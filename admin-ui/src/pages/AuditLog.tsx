// Every admin action: who, when, what, and the record before and after.
import { Fragment, useState } from "react";
import { api } from "../api/client";
import { call } from "../api/errors";
import { when } from "../lib/format";
import { navigate, useLocation } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, Empty, Field, Loaded, PageHeader } from "../ui/kit";
import { PagerControls, usePager } from "../ui/Pager";

export function AuditLog() {
  const { query } = useLocation();
  const action = query.get("action") ?? "";
  const target = query.get("target_kind") ?? "";
  const pager = usePager(`${action}|${target}`);
  const [open, setOpen] = useState<number | null>(null);
  const page = useApi(
    () =>
      call(
        api.GET("/v1/audit-log", {
          params: { query: { action: action || undefined, target_kind: target || undefined, cursor: pager.cursor ?? undefined, limit: 50 } },
        }),
      ),
    [action, target, pager.cursor],
  );
  const setQuery = (k: string, v: string) => {
    const params = new URLSearchParams(query);
    if (v) params.set(k, v);
    else params.delete(k);
    navigate(`/audit${params.size ? `?${params}` : ""}`, { replace: true });
  };
  return (
    <>
      <PageHeader title="Audit log" subtitle="Every change made by operators, API keys and the system. Append only." />
      <div className="filters">
        <Field label="Action">{(p) => <input {...p} placeholder="campaign.approve" defaultValue={action} onBlur={(e) => setQuery("action", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("action", e.currentTarget.value.trim())} />}</Field>
        <Field label="Target kind">{(p) => <input {...p} placeholder="campaign" defaultValue={target} onBlur={(e) => setQuery("target_kind", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("target_kind", e.currentTarget.value.trim())} />}</Field>
      </div>
      <Loaded state={page} what="the audit log">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No entries match." />
          ) : (
            <>
              <div className="table-wrap card">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Action</th>
                      <th scope="col">Target</th>
                      <th scope="col">
                        <span className="visually-hidden">Details</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((e) => (
                      <Fragment key={e.id}>
                        <tr>
                          <td>{when(e.occurred_at)}</td>
                          <td>
                            {e.actor_name} <span className="muted small">({e.actor_kind})</span>
                          </td>
                          <td>
                            <code>{e.action}</code>
                          </td>
                          <td>
                            {e.target_kind}
                            {e.target_id ? ` #${e.target_id}` : ""}
                          </td>
                          <td>
                            {(e.before || e.after) && (
                              <Button kind="ghost" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                                {open === e.id ? "Hide" : "Changes"}
                              </Button>
                            )}
                          </td>
                        </tr>
                        {open === e.id && (
                          <tr className="trace-row">
                            <td colSpan={5}>
                              <div className="diff">
                                <div>
                                  <p className="small muted">Before</p>
                                  <pre className="rendered-text">{e.before ? JSON.stringify(e.before, null, 2) : "—"}</pre>
                                </div>
                                <div>
                                  <p className="small muted">After</p>
                                  <pre className="rendered-text">{e.after ? JSON.stringify(e.after, null, 2) : "—"}</pre>
                                </div>
                              </div>
                            </td>
                          </tr>
                        )}
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </div>
              <PagerControls pager={pager} next={p.next_cursor} />
            </>
          )
        }
      </Loaded>
    </>
  );
}
