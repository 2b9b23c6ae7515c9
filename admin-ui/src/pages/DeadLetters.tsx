// Deliveries that exhausted their retries: why they failed, and re-driving them (the
// chosen ones, or every one matching the filter).
import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { count, recipient, when } from "../lib/format";
import { navigate, useLocation } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, PageHeader } from "../ui/kit";
import { PagerControls, usePager } from "../ui/Pager";
import { CHANNELS } from "../ui/templateContent";
import { useToast } from "../ui/toasts";

export function DeadLetters() {
  const { can } = useSession();
  const { query } = useLocation();
  const campaignId = query.get("campaign_id") ?? "";
  const channel = (query.get("channel") ?? "") as Schemas["ChannelKind"] | "";
  const error = query.get("error") ?? "";
  const key = `${campaignId}|${channel}|${error}`;
  const pager = usePager(key);
  const [chosen, setChosen] = useState<Set<number>>(new Set());
  const toast = useToast();
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const filter: Schemas["DeadFilter"] = {
    campaign_id: campaignId ? Number(campaignId) : null,
    channel: channel || null,
    error: error || null,
  };
  const page = useApi(
    () =>
      call(
        api.GET("/v1/dead-letters", {
          params: {
            query: {
              campaign_id: filter.campaign_id ?? undefined,
              channel: filter.channel ?? undefined,
              error: filter.error ?? undefined,
              cursor: pager.cursor ?? undefined,
              limit: 50,
            },
          },
        }),
      ),
    [key, pager.cursor],
  );

  const setQuery = (k: string, v: string) => {
    const params = new URLSearchParams(query);
    if (v) params.set(k, v);
    else params.delete(k);
    navigate(`/dead-letters${params.size ? `?${params}` : ""}`, { replace: true });
  };

  const redrive = async (all: boolean) => {
    if (all && !window.confirm("Re-drive every dead letter matching the filter?")) return;
    setBusy(true);
    setFailure(null);
    try {
      const body: Schemas["RedriveIn"] = all ? { filter } : { ids: [...chosen] };
      const done = await call(api.POST("/v1/dead-letters/redrive", { body }));
      toast.success(`${count(done.redriven)} deliveries queued again.`);
      setChosen(new Set());
      page.reload();
    } catch (e) {
      setFailure(e);
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: number) =>
    setChosen((set) => {
      const next = new Set(set);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <>
      <PageHeader title="Dead letters" subtitle="Deliveries that failed after every retry.">
        {can("deliveries:redrive") && (
          <>
            <Button onClick={() => void redrive(false)} disabled={chosen.size === 0} busy={busy}>
              Re-drive selected ({chosen.size})
            </Button>
            <Button kind="primary" onClick={() => void redrive(true)} disabled={!page.data?.items.length} busy={busy}>
              Re-drive all matching
            </Button>
          </>
        )}
      </PageHeader>
      <div className="filters">
        <Field label="Campaign id">{(p) => <input {...p} inputMode="numeric" defaultValue={campaignId} onBlur={(e) => setQuery("campaign_id", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("campaign_id", e.currentTarget.value.trim())} />}</Field>
        <Field label="Channel">
          {(p) => (
            <select {...p} value={channel} onChange={(e) => setQuery("channel", e.target.value)}>
              <option value="">Any</option>
              {CHANNELS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Error contains">{(p) => <input {...p} defaultValue={error} placeholder="503" onBlur={(e) => setQuery("error", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && setQuery("error", e.currentTarget.value.trim())} />}</Field>
      </div>
      <ErrorNotice error={failure} />
      <Loaded state={page} what="dead letters">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No dead letters." />
          ) : (
            <>
              <div className="table-wrap card">
                <table>
                  <thead>
                    <tr>
                      {can("deliveries:redrive") && (
                        <th scope="col">
                          <span className="visually-hidden">Select</span>
                        </th>
                      )}
                      <th scope="col">Recipient</th>
                      <th scope="col">Channel</th>
                      <th scope="col">Last error</th>
                      <th scope="col" className="num">Attempts</th>
                      <th scope="col">Since</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((d) => (
                      <tr key={d.delivery_id}>
                        {can("deliveries:redrive") && (
                          <td>
                            <input type="checkbox" aria-label={`Select delivery ${d.delivery_id}`} checked={chosen.has(d.delivery_id)} onChange={() => toggle(d.delivery_id)} />
                          </td>
                        )}
                        <td>{recipient(d.recipient)}</td>
                        <td>{d.channel}</td>
                        <td className="muted">{d.reason ?? "—"}</td>
                        <td className="num">{d.attempts}</td>
                        <td>{when(d.updated_at)}</td>
                      </tr>
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
