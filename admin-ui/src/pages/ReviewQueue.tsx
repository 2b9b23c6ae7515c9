// Campaigns waiting for review, oldest first; the author's own are marked, since only
// another reviewer may approve them.
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useOperator } from "../lib/auth";
import { when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Empty, Loaded, PageHeader } from "../ui/kit";
import { scheduleText } from "../ui/schedule";

export function ReviewQueue() {
  const queue = useApi(() => call(api.GET("/v1/campaigns", { params: { query: { status: "in_review" } } })), [], { pollMs: 10000 });
  return (
    <>
      <PageHeader title="Review queue" subtitle="Check the content and what the rules would do, then approve or reject with a comment." />
      <Loaded state={queue} what="the review queue">
        {(list) =>
          list.length === 0 ? (
            <Empty title="Nothing waits for review.">
              <p>Campaigns appear here when their author submits them.</p>
            </Empty>
          ) : (
            <ul className="queue">
              {[...list].sort((a, b) => a.updated_at.localeCompare(b.updated_at)).map((c) => (
                <QueueItem key={c.id} campaign={c} />
              ))}
            </ul>
          )
        }
      </Loaded>
    </>
  );
}

function QueueItem({ campaign: c }: { campaign: Schemas["CampaignOut"] }) {
  const me = useOperator();
  const history = useApi(() => call(api.GET("/v1/campaigns/{id}/history", { params: { path: { id: c.id } } })), [c.id]);
  const submitted = [...(history.data ?? [])].reverse().find((s) => s.action === "submit");
  const mine = c.created_by === me.id;
  return (
    <li className="card queue-item">
      <div>
        <Link to={`/campaigns/${c.id}`} className="queue-title">
          {c.name}
        </Link>
        <p className="muted">
          {c.category} · {c.channels.join(", ")} · {scheduleText(c.schedule)}
        </p>
        <p className="small">
          Submitted {submitted ? <>by {submitted.actor_name} {when(submitted.occurred_at)}</> : when(c.updated_at)}
          {submitted?.comment ? <> — “{submitted.comment}”</> : null}
        </p>
      </div>
      <div className="queue-side">
        {mine ? (
          <span className="badge badge-neutral">Yours: another reviewer approves</span>
        ) : (
          <Link to={`/campaigns/${c.id}`} className="btn btn-primary">
            Review
          </Link>
        )}
      </div>
    </li>
  );
}
