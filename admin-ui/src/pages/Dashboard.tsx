// What is going out now: today's sends, running campaigns with live progress, what
// waits for review, and how each channel has delivered this week (from the reports API).
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { funnel, outcomes, utcDay, type FunnelRow } from "../api/reports";
import { count, percent } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, ErrorNotice, Loaded, PageHeader, StatusBadge } from "../ui/kit";
import { LiveProgress } from "../ui/progress";

type Campaign = Schemas["CampaignOut"];
const LIVE = new Set(["running", "scheduled", "paused"]);
const FINISHED = new Set(["completed", "cancelled"]);
const RECENT_FINISHED = 5;
const SUCCESS_DAYS = 7;

export function Dashboard() {
  const { can } = useSession();
  const campaigns = useApi(() => call(api.GET("/v1/campaigns")), [], { pollMs: 5000 });

  return (
    <>
      <PageHeader title="Dashboard" subtitle="Campaigns going out now and how channels are delivering.">
        {can("campaigns:write") && (
          <Link to="/campaigns/new" className="btn btn-primary">
            New campaign
          </Link>
        )}
      </PageHeader>
      <Loaded state={campaigns} what="campaigns">
        {(list) => <Overview campaigns={list} />}
      </Loaded>
    </>
  );
}

function Overview({ campaigns }: { campaigns: Campaign[] }) {
  const { can } = useSession();
  const by = (status: string) => campaigns.filter((c) => c.status === status).length;
  const live = campaigns.filter((c) => LIVE.has(c.status));
  return (
    <>
      <Today />
      <div className="stats">
        <Stat label="Running" value={by("running")} to="/campaigns?status=running" />
        <Stat label="Scheduled" value={by("scheduled")} to="/campaigns?status=scheduled" />
        <Stat label="Waiting for review" value={by("in_review")} to={can("campaigns:review") ? "/review" : "/campaigns?status=in_review"} />
        <Stat label="Drafts" value={by("draft")} to="/campaigns?status=draft" />
      </div>

      <section className="card" aria-labelledby="live-title">
        <h2 id="live-title">Live campaigns</h2>
        {live.length === 0 ? (
          <Empty title="Nothing is sending right now.">
            <p>Approved campaigns appear here once they are scheduled.</p>
          </Empty>
        ) : (
          <CampaignRows campaigns={live} />
        )}
      </section>

      <Finished campaigns={campaigns.filter((c) => FINISHED.has(c.status)).slice(0, RECENT_FINISHED)} />

      <ChannelSuccess />
    </>
  );
}

/// The latest campaigns that finished, with their final counts.
function Finished({ campaigns }: { campaigns: Campaign[] }) {
  if (campaigns.length === 0) return null;
  return (
    <section className="card" aria-labelledby="finished-title">
      <h2 id="finished-title">Recently finished</h2>
      <CampaignRows campaigns={campaigns} />
    </section>
  );
}

/// Campaigns with their channels and progress, each linking to its page.
function CampaignRows({ campaigns }: { campaigns: Campaign[] }) {
  return (
    <ul className="live-list">
      {campaigns.map((c) => (
        <li key={c.id}>
          <div className="live-head">
            <Link to={`/campaigns/${c.id}`}>{c.name}</Link> <StatusBadge status={c.status} />
            <span className="muted"> · {c.channels.join(", ")}</span>
          </div>
          <LiveProgress id={c.id} status={c.status} name={c.name} />
        </li>
      ))}
    </ul>
  );
}

function Stat({ label, value, to }: { label: string; value: number; to: string }) {
  return (
    <Link to={to} className="stat">
      <span className="stat-value">{count(value)}</span>
      <span className="stat-label">{label}</span>
    </Link>
  );
}

/// Deliveries created today (UTC): how many were handed to a channel and delivered.
function Today() {
  const today = utcDay();
  const rows = useApi(() => funnel({ from: today, to: today }), [today], { pollMs: 10000 });
  const sum = (of: (row: FunnelRow) => number) => (rows.data ?? []).reduce((total, row) => total + of(row), 0);
  const value = (n: number) => (rows.data ? count(n) : "…");
  return (
    <section className="stats" aria-label="Today">
      <div className="stat">
        <span className="stat-value">{value(sum((r) => r.sent))}</span>
        <span className="stat-label">Sends today</span>
      </div>
      <div className="stat tone-success">
        <span className="stat-value">{value(sum((r) => r.delivered))}</span>
        <span className="stat-label">Delivered today</span>
      </div>
      <div className="stat tone-muted">
        <span className="stat-value">{value(sum((r) => r.filtered))}</span>
        <span className="stat-label">Filtered today</span>
      </div>
      <div className="stat">
        <span className="stat-value">{value(sum((r) => r.failed + r.dead))}</span>
        <span className="stat-label">Failing or dead today</span>
      </div>
      {rows.error ? <ErrorNotice error={rows.error} title="Could not load today's numbers." /> : null}
    </section>
  );
}

type ChannelTotals = { delivered: number; failed: number; filtered: number };
const FAILED = new Set(["failed", "dead", "expired"]);

/// Delivered against failed, dead or expired for each channel over the last week, from
/// the reports API (deliveries counted by channel and status).
function ChannelSuccess() {
  const from = utcDay(-(SUCCESS_DAYS - 1));
  const totals = useApi(
    async () => {
      const report = await outcomes({ from }, ["channel", "status"]);
      const byChannel = new Map<string, ChannelTotals>();
      for (const row of report.rows) {
        const channel = row.channel ?? "";
        const totals = byChannel.get(channel) ?? { delivered: 0, failed: 0, filtered: 0 };
        if (row.status === "delivered") totals.delivered += row.count;
        else if (row.status === "filtered") totals.filtered += row.count;
        else if (FAILED.has(row.status ?? "")) totals.failed += row.count;
        byChannel.set(channel, totals);
      }
      return [...byChannel.entries()];
    },
    [from],
    { pollMs: 10000 },
  );
  return (
    <section className="card" aria-labelledby="success-title">
      <div className="card-head">
        <h2 id="success-title">Delivery success per channel</h2>
        <Link to={`/reports?from=${from}&group_by=channel,day,status`}>Reports</Link>
      </div>
      <p className="muted">Deliveries planned in the last {SUCCESS_DAYS} days (UTC): delivered against failed, dead or expired.</p>
      <Loaded state={totals} what="channel totals">
        {(rows) =>
          rows.length === 0 ? (
            <Empty title="Nothing was sent in the last week." />
          ) : (
            <div className="bars">
              {rows.map(([channel, row]) => {
                const attempted = row.delivered + row.failed;
                const rate = attempted === 0 ? 0 : row.delivered / attempted;
                return (
                  <div className="bar-row" key={channel}>
                    <span className="bar-label">{channel}</span>
                    <svg className="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label={`${channel}: ${percent(row.delivered, attempted)} delivered`}>
                      <rect x="0" y="0" width="100" height="10" className="bar-track" />
                      <rect x="0" y="0" width={rate * 100} height="10" className="bar-fill" />
                    </svg>
                    <span className="bar-value">
                      {percent(row.delivered, attempted)} <span className="muted">({count(row.delivered)} delivered, {count(row.failed)} failed, {count(row.filtered)} filtered)</span>
                    </span>
                  </div>
                );
              })}
            </div>
          )
        }
      </Loaded>
    </section>
  );
}
