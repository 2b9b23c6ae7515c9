// The reports API (`/v1/reports/*`): typed fetchers, and the address of each report as
// a CSV download (the API streams it; a plain link sends the session cookie).
import { api, type Schemas } from "./client";
import { call } from "./errors";

export type GroupKey = Schemas["GroupKey"];
export type OutcomeRow = Schemas["OutcomeRow"];
export type FunnelRow = Schemas["FunnelRow"];
export type FilteredRow = Schemas["FilteredBy"];
export type ChannelKind = Schemas["ChannelKind"];
export type DeliveryStatus = NonNullable<ReportQuery["status"]>;

/// The outcomes report as `/v1/reports/deliveries` answers it. Declared here because
/// openapi.json names two schemas `DeliveryReport` (this one and a message's
/// per-recipient status in core/src/messages.rs) and keeps the other, so the generated
/// type of this route is wrong.
export type OutcomeReport = { group_by: GroupKey[]; rows: OutcomeRow[]; total: number };

export type ReportFilter = {
  from?: string | undefined;
  to?: string | undefined;
  campaign_id?: number | undefined;
  channel?: ChannelKind | undefined;
  status?: DeliveryStatus | undefined;
};

type ReportQuery = NonNullable<import("./schema").paths["/v1/reports/deliveries"]["get"]["parameters"]["query"]>;

export const STATUSES: DeliveryStatus[] = ["queued", "filtered", "deferred", "sending", "delivered", "failed", "dead", "expired", "cancelled"];
export const GROUP_KEYS: GroupKey[] = ["campaign", "channel", "day", "status"];

export async function outcomes(filter: ReportFilter, groupBy: GroupKey[]): Promise<OutcomeReport> {
  const answer = await call(api.GET("/v1/reports/deliveries", { params: { query: { ...filter, group_by: groupBy.join(",") } } }));
  return answer as unknown as OutcomeReport;
}

export function funnel(filter: ReportFilter): Promise<FunnelRow[]> {
  const { status: _ignored, ...rest } = filter;
  return call(api.GET("/v1/reports/funnel", { params: { query: rest } }));
}

export function filtered(filter: ReportFilter): Promise<FilteredRow[]> {
  const { status: _ignored, ...rest } = filter;
  return call(api.GET("/v1/reports/filtered", { params: { query: rest } }));
}

/// `path?…&format=csv` with every set parameter: the same rows as the JSON answer.
export function csvUrl(path: string, params: Record<string, string | number | undefined | null>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  query.set("format", "csv");
  return `${path}?${query}`;
}

/// Today as the reports count days: the UTC calendar day.
export function utcDay(offsetDays = 0): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}
