// The delivery log: one row per recipient and channel, filtered by campaign, message,
// subscriber, channel or status; a row opens its trace (every attempt and its answer).
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { entryKey } from "../api/deliveries";
import type { paths } from "../api/schema";
import { call } from "../api/errors";
import { label, recipient, when } from "../lib/format";
import { navigate, useLocation } from "../lib/router";
import { freshOnly, useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, Loading, PageHeader, StatusBadge } from "../ui/kit";
import { csvUrl } from "../api/reports";
import { CsvLink } from "../ui/CsvLink";
import { PagerControls, usePager } from "../ui/Pager";
import { CHANNELS } from "../ui/templateContent";

type DeliveryStatus = NonNullable<NonNullable<paths["/v1/deliveries"]["get"]["parameters"]["query"]>["status"]>;
const STATUSES: DeliveryStatus[] = ["queued", "filtered", "deferred", "sending", "delivered", "failed", "dead", "expired", "cancelled"];
const FINAL_UNSENT = new Set(["filtered", "expired", "cancelled"]);
const FILTERS = ["campaign_id", "message_id", "subscriber", "channel", "status"] as const;

export function Deliveries() {
  const { query } = useLocation();
  const filter = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) ?? ""])) as Record<(typeof FILTERS)[number], string>;
  const key = JSON.stringify(filter);
  const pager = usePager(key);
  const [open, setOpen] = useState<string | null>(null);
  const page = useApi(
    () =>
      call(
        api.GET("/v1/deliveries", {
          params: {
            query: {
              campaign_id: filter.campaign_id ? Number(filter.campaign_id) : undefined,
              message_id: filter.message_id ? Number(filter.message_id) : undefined,
              subscriber: filter.subscriber || undefined,
              channel: (filter.channel || undefined) as Schemas["ChannelKind"] | undefined,
              status: STATUSES.find((s) => s === filter.status),
              cursor: pager.cursor ?? undefined,
              limit: 50,
            },
          },
        }),
      ),
    [key, pager.cursor],
  );

  return (
    <>
      <PageHeader title="Delivery log" subtitle="Who got what, when, over which channel, and if not, why not.">
        <CsvLink what="the delivery log" href={csvUrl("/v1/deliveries", filter)} />
      </PageHeader>
      <FilterForm key={key} initial={filter} />
      {filter.subscriber && (
        <p className="filter-summary">
          Showing every delivery to subscriber <strong>{filter.subscriber}</strong>. Open a row's trace to see why it was or was not delivered.
        </p>
      )}
      <Loaded state={freshOnly(page)} what="deliveries">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="No deliveries match." />
          ) : (
            <>
              <div className="table-wrap card">
                <table className="stack-table">
                  <thead>
                    <tr>
                      <th scope="col">Recipient</th>
                      <th scope="col">Channel</th>
                      <th scope="col">Status</th>
                      <th scope="col">Why</th>
                      <th scope="col" className="num">Attempts</th>
                      <th scope="col">Updated</th>
                      <th scope="col">
                        <span className="visually-hidden">Trace</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((d) => (
                      <Row key={entryKey(d)} delivery={d} open={open === entryKey(d)} toggle={() => setOpen(open === entryKey(d) ? null : entryKey(d))} />
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

function FilterForm({ initial }: { initial: Record<string, string> }) {
  const [values, setValues] = useState(initial);
  const apply = (event: FormEvent) => {
    event.preventDefault();
    const params = new URLSearchParams(Object.entries(values).filter(([, v]) => v.trim() !== ""));
    navigate(`/deliveries${params.size ? `?${params}` : ""}`, { replace: true });
  };
  const set = (k: string, v: string) => setValues((all) => ({ ...all, [k]: v }));
  return (
    <form className="filters" onSubmit={apply} aria-label="Filter deliveries">
      <Field label="Campaign id">{(p) => <input {...p} inputMode="numeric" value={values.campaign_id ?? ""} onChange={(e) => set("campaign_id", e.target.value)} />}</Field>
      <Field label="Message id">{(p) => <input {...p} inputMode="numeric" value={values.message_id ?? ""} onChange={(e) => set("message_id", e.target.value)} />}</Field>
      <Field label="Subscriber">{(p) => <input {...p} placeholder="external id" value={values.subscriber ?? ""} onChange={(e) => set("subscriber", e.target.value)} />}</Field>
      <Field label="Channel">
        {(p) => (
          <select {...p} value={values.channel ?? ""} onChange={(e) => set("channel", e.target.value)}>
            <option value="">Any</option>
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Status">
        {(p) => (
          <select {...p} value={values.status ?? ""} onChange={(e) => set("status", e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Button type="submit" kind="primary">
        Apply
      </Button>
    </form>
  );
}

function Row({ delivery: d, open, toggle }: { delivery: Schemas["DeliveryEntry"]; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr>
        <td data-label="Recipient">{recipient(d.recipient)}</td>
        <td data-label="Channel">{d.channel}</td>
        <td data-label="Status">
          <StatusBadge status={d.status} />
        </td>
        <td data-label="Why" className="muted">
          {d.filter ? `${label(d.filter)}: ` : ""}
          {d.reason ?? (d.not_before ? `not before ${when(d.not_before)}` : "—")}
        </td>
        <td data-label="Attempts" className="num">{d.attempts}</td>
        <td data-label="Updated">{when(d.updated_at)}</td>
        <td className="row-action">
          <Button kind="ghost" aria-expanded={open} onClick={toggle}>
            {open ? "Hide trace" : "Trace"}
          </Button>
        </td>
      </tr>
      {open && (
        <tr className="trace-row">
          <td colSpan={7}>
            <Trace entry={d} />
          </td>
        </tr>
      )}
    </>
  );
}

function Trace({ entry }: { entry: Schemas["DeliveryEntry"] }) {
  const { id, item_id, recipient: who } = entry;
  const trace = useApi(
    () =>
      call(
        id != null
          ? api.GET("/v1/deliveries/{id}", { params: { path: { id } } })
          : api.GET("/v1/deliveries/shared/{item_id}/{recipient}", { params: { path: { item_id: item_id ?? 0, recipient: who } } }),
      ),
    [id, item_id, who],
  );
  if (trace.error) return <ErrorNotice error={trace.error} />;
  if (!trace.data) return <Loading />;
  const t = trace.data;
  return (
    <div className="trace">
      <p className="small">
        {t.id != null ? `Delivery #${t.id}` : `Shared inbox item #${t.item_id}`} of message #{t.message_id} to {recipient(t.recipient)} over {t.channel} · created {when(t.created_at)}
      </p>
      <dl className="trace-why">
        <dt>Outcome</dt>
        <dd>
          <StatusBadge status={t.status} /> {t.status === "delivered" ? null : why(t)}
        </dd>
        {t.filter && (
          <>
            <dt>Filtered by</dt>
            <dd>
              {label(t.filter)}
              {t.rule_id ? ` · rule #${t.rule_id}` : ""}
              {t.list_entry_id ? ` · block list entry #${t.list_entry_id}` : ""}
            </dd>
          </>
        )}
        {!t.filter && t.rule_id ? (
          <>
            <dt>Rule</dt>
            <dd>#{t.rule_id}</dd>
          </>
        ) : null}
        {t.not_before && (
          <>
            <dt>Not before</dt>
            <dd>{when(t.not_before)}</dd>
          </>
        )}
        <dt>Attempts</dt>
        <dd>{t.attempts_made.length}</dd>
      </dl>
      {t.attempts_made.length === 0 ? (
        <p className="muted">{FINAL_UNSENT.has(t.status) ? "Never handed to a channel." : "No attempts yet."}</p>
      ) : (
        <ol className="attempts">
          {t.attempts_made.map((a) => (
            <li key={`${a.attempt}-${a.started_at}-${a.outcome}`}>
              <strong>#{a.attempt}</strong> {when(a.started_at)} · {a.outcome} · {a.duration_ms} ms
              {a.detail && <pre className="rendered-text">{a.detail}</pre>}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/// Why a delivery is where it is, in words: the filter's reason, a deferral, the last error.
function why(d: Schemas["DeliveryEntry"]): string {
  if (d.reason) return d.reason;
  if (d.status === "deferred" && d.not_before) return `waiting until ${when(d.not_before)}`;
  if (d.status === "queued" || d.status === "sending") return "on its way";
  return "no reason recorded";
}
