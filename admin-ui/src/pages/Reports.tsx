// Delivery reports for auditors: outcomes grouped as chosen, outcomes per channel over
// time, a funnel per campaign and why deliveries were filtered; every report also as a
// CSV download the API streams.
import { GROUP_KEYS, STATUSES, type ChannelKind, type GroupKey, type ReportFilter } from "../api/reports";
import { useLocation } from "../lib/router";
import { PageHeader } from "../ui/kit";
import { CHANNELS } from "../ui/templateContent";
import { ChannelTimeline } from "./reports/ChannelTimeline";
import { FilteredBreakdown } from "./reports/FilteredBreakdown";
import { Funnel } from "./reports/Funnel";
import { Outcomes } from "./reports/Outcomes";
import { ReportFilters, type FilterValues } from "./reports/ReportFilters";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DEFAULT_GROUP: GroupKey[] = ["campaign", "channel", "status"];

function valuesOf(query: URLSearchParams): FilterValues {
  const groupBy = (query.get("group_by") ?? "").split(",").filter((k): k is GroupKey => GROUP_KEYS.includes(k as GroupKey));
  return {
    from: query.get("from") ?? "",
    to: query.get("to") ?? "",
    campaign_id: query.get("campaign_id") ?? "",
    channel: query.get("channel") ?? "",
    status: query.get("status") ?? "",
    group_by: groupBy.length > 0 ? groupBy : DEFAULT_GROUP,
  };
}

/// The filter the API takes; values that cannot be right are left out, not sent.
function filterOf(v: FilterValues): ReportFilter {
  const id = Number(v.campaign_id);
  return {
    from: DAY.test(v.from) ? v.from : undefined,
    to: DAY.test(v.to) ? v.to : undefined,
    campaign_id: v.campaign_id && Number.isInteger(id) ? id : undefined,
    channel: CHANNELS.find((c): c is ChannelKind => c === v.channel),
    status: STATUSES.find((s) => s === v.status),
  };
}

export function Reports() {
  const { query } = useLocation();
  const values = valuesOf(query);
  const filter = filterOf(values);
  return (
    <>
      <PageHeader title="Reports" subtitle="Delivery outcomes by campaign, channel, day and status. Days are UTC; a delivery counts on the day it was planned." />
      <ReportFilters key={query.toString()} initial={values} />
      {filter.from && filter.to && filter.from > filter.to ? (
        <div className="notice notice-error" role="alert">
          The period starts ({filter.from}) after it ends ({filter.to}). Choose a “From” day on or before the “To” day.
        </div>
      ) : (
        <>
          <Outcomes filter={filter} groupBy={values.group_by} />
          <ChannelTimeline filter={filter} />
          <Funnel filter={filter} />
          <FilteredBreakdown filter={filter} />
        </>
      )}
    </>
  );
}
