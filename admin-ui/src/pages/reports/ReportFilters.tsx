// The reports' filters: a period, a campaign, a channel, a status and what the outcomes
// table is grouped by. Applying them puts them in the address, so a report can be
// bookmarked and shared.
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { call } from "../../api/errors";
import { GROUP_KEYS, STATUSES, type GroupKey } from "../../api/reports";
import { label } from "../../lib/format";
import { navigate } from "../../lib/router";
import { useApi } from "../../lib/useApi";
import { Button, Field } from "../../ui/kit";
import { CHANNELS } from "../../ui/templateContent";

export type FilterValues = { from: string; to: string; campaign_id: string; channel: string; status: string; group_by: GroupKey[] };

export function ReportFilters({ initial }: { initial: FilterValues }) {
  const [values, setValues] = useState(initial);
  const campaigns = useApi(() => call(api.GET("/v1/campaigns")), []);
  const set = (patch: Partial<FilterValues>) => setValues((v) => ({ ...v, ...patch }));

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const key of ["from", "to", "campaign_id", "channel", "status"] as const) {
      if (values[key]) params.set(key, values[key]);
    }
    if (values.group_by.length > 0) params.set("group_by", values.group_by.join(","));
    navigate(`/reports${params.size ? `?${params}` : ""}`, { replace: true });
  };

  const toggleKey = (key: GroupKey, on: boolean) =>
    set({ group_by: on ? GROUP_KEYS.filter((k) => k === key || values.group_by.includes(k)) : values.group_by.filter((k) => k !== key) });

  return (
    <form className="card" onSubmit={apply} aria-label="Report filters">
      <div className="filters filters-top">
        <Field label="From">
          {(p) => <input {...p} type="date" value={values.from} max={values.to || undefined} onChange={(e) => set({ from: e.target.value })} />}
        </Field>
        <Field label="To">
          {(p) => <input {...p} type="date" value={values.to} min={values.from || undefined} onChange={(e) => set({ to: e.target.value })} />}
        </Field>
        <Field label="Campaign">
          {(p) => (
            <select {...p} value={values.campaign_id} onChange={(e) => set({ campaign_id: e.target.value })}>
              <option value="">Any</option>
              {(campaigns.data ?? []).map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Channel">
          {(p) => (
            <select {...p} value={values.channel} onChange={(e) => set({ channel: e.target.value })}>
              <option value="">Any</option>
              {CHANNELS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Status">
          {(p) => (
            <select {...p} value={values.status} onChange={(e) => set({ status: e.target.value })}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {label(s)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <fieldset className="group-by">
        <legend>Group outcomes by</legend>
        {GROUP_KEYS.map((key) => (
          <label key={key}>
            <input type="checkbox" checked={values.group_by.includes(key)} onChange={(e) => toggleKey(key, e.target.checked)} /> {label(key)}
          </label>
        ))}
      </fieldset>
      <div className="form-actions">
        <Button type="submit" kind="primary">
          Apply filters
        </Button>
      </div>
    </form>
  );
}
