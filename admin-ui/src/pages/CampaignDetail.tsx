// One campaign: what it sends and to whom, its live progress, the actions its state and
// the operator's role allow (submit, approve or reject, schedule, pause, resume,
// cancel), a simulation, and its history. In review, content and simulation sit side
// by side for the reviewer.
import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useOperator, useSession } from "../lib/auth";
import { count, when } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, Loading, Notice, PageHeader, StatusBadge } from "../ui/kit";
import { ProgressDetail, ProgressSummary, useProgress } from "../ui/progress";
import { scheduleText } from "../ui/schedule";
import { SimulationPanel } from "../ui/Simulation";
import { TemplatePreview } from "../ui/TemplatePreview";
import { useToast } from "../ui/toasts";

type Campaign = Schemas["CampaignOut"];
type Step = "submit" | "approve" | "reject" | "schedule" | "pause" | "resume" | "cancel";
const STARTED = new Set(["scheduled", "running", "paused", "completed", "cancelled"]);
const LIVE = new Set(["scheduled", "running", "paused", "in_review"]);

export function CampaignDetail({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const [version, setVersion] = useState(0);
  const campaign = useApi(() => call(api.GET("/v1/campaigns/{id}", { params: { path: { id } } })), [id, version], {
    pollMs: 5000,
  });
  return (
    <Loaded state={campaign} what="the campaign">
      {(c) => <Campaign campaign={c} onChange={(next) => { campaign.setData(next); setVersion((v) => v + 1); }} />}
    </Loaded>
  );
}

function Campaign({ campaign: c, onChange }: { campaign: Campaign; onChange: (c: Campaign) => void }) {
  const { can } = useSession();
  const reviewing = c.status === "in_review" && can("campaigns:review");
  const template = useApi(() => call(api.GET("/v1/templates/{id}", { params: { path: { id: c.template_id } } })), [c.template_id]);
  const audience = useApi(() => call(api.GET("/v1/audiences/{id}", { params: { path: { id: c.audience_id } } })), [c.audience_id]);
  const history = useApi(() => call(api.GET("/v1/campaigns/{id}/history", { params: { path: { id: c.id } } })), [c.id, c.status]);
  const dataKeys = Object.keys(c.data ?? {});

  return (
    <>
      <PageHeader
        title={
          <>
            {c.name} <StatusBadge status={c.status} />
            {c.recalled_at && <span className="badge badge-danger">recalled {when(c.recalled_at)}</span>}
          </>
        }
        subtitle={`${c.category} · ${c.channels.join(", ")} · ${scheduleText(c.schedule)}`}
      >
        <Link to={reviewing ? "/review" : "/campaigns"} className="btn btn-ghost">
          {reviewing ? "Review queue" : "All campaigns"}
        </Link>
      </PageHeader>
      <Actions campaign={c} onChange={onChange} />
      {STARTED.has(c.status) && <Progress campaign={c} />}
      <div className={c.status === "in_review" ? "split split-even" : "split"}>
        <div className="main-col">
          {c.status === "in_review" && <ContentPreview campaign={c} dataKeys={dataKeys} />}
          <section className="card">
            <h2>Details</h2>
            <dl className="summary">
              <dt>Template</dt>
              <dd>
                {template.data ? <Link to={`/templates/${c.template_id}`}>{template.data.template.name}</Link> : `#${c.template_id}`} v{c.template_version}
              </dd>
              <dt>Audience</dt>
              <dd>
                {audience.data ? <Link to={`/audiences/${c.audience_id}`}>{audience.data.name}</Link> : `#${c.audience_id}`}
              </dd>
              <dt>Channels</dt>
              <dd>{c.channels.join(", ")}</dd>
              <dt>Schedule</dt>
              <dd>{scheduleText(c.schedule)}</dd>
              <dt>Priority</dt>
              <dd>{c.priority}</dd>
              {c.expires_at && (
                <>
                  <dt>Expires</dt>
                  <dd>{when(c.expires_at)}</dd>
                </>
              )}
              {Object.keys(c.data ?? {}).length > 0 && (
                <>
                  <dt>Data</dt>
                  <dd>
                    <code>{JSON.stringify(c.data)}</code>
                  </dd>
                </>
              )}
              <dt>Created</dt>
              <dd>{when(c.created_at)}</dd>
            </dl>
          </section>
          {c.status !== "in_review" && <ContentPreview campaign={c} dataKeys={dataKeys} />}
        </div>
        <div className="side">
          <SimulationPanel campaignId={c.id} auto={reviewing} />
          <section className="card" aria-labelledby="history-title">
            <h2 id="history-title">History</h2>
            <Loaded state={history} what="the history">
              {(steps) =>
                steps.length === 0 ? (
                  <Empty title="Nothing has happened yet." />
                ) : (
                  <ol className="timeline">
                    {steps.map((s, i) => (
                      <li key={i}>
                        <p>
                          <strong>{s.actor_name}</strong> {i === 0 && s.action === "edit" ? "created it" : `${STEP_PAST[s.action] ?? s.action}`}
                          {s.from_status !== s.to_status && (
                            <span className="muted">
                              {" "}
                              · now {s.to_status.replace(/_/g, " ")}
                            </span>
                          )}
                          <span className="muted small"> · {when(s.occurred_at)}</span>
                        </p>
                        {s.comment && !(i === 0 && s.comment === "created") && <blockquote>{s.comment}</blockquote>}
                      </li>
                    ))}
                  </ol>
                )
              }
            </Loaded>
          </section>
        </div>
      </div>
    </>
  );
}

/// The content as recipients get it: rendered for the first member of the audience.
function ContentPreview({ campaign: c, dataKeys }: { campaign: Campaign; dataKeys: string[] }) {
  const first = useApi(
    () => call(api.GET("/v1/audiences/{id}/sample", { params: { path: { id: c.audience_id }, query: { limit: 1 } } })),
    [c.audience_id],
  );
  if (!first.data && !first.error) return <Loading what="Loading the content" />;
  const data = Object.fromEntries(Object.entries(c.data ?? {}).map(([k, v]) => [k, String(v)]));
  return (
    <TemplatePreview
      title="Content"
      templateId={c.template_id}
      version={c.template_version}
      dataKeys={dataKeys}
      initialSubscriber={first.data?.[0]?.external_id ?? ""}
      initialData={data}
      channels={c.channels}
    />
  );
}

function Progress({ campaign: c }: { campaign: Campaign }) {
  const progress = useProgress(c.id, c.status);
  return (
    <section className="card" aria-labelledby="progress-title">
      <h2 id="progress-title">Progress {LIVE.has(c.status) && <span className="live-dot" aria-label="live" />}</h2>
      <Loaded state={progress} what="progress">
        {(p) => (
          <>
            <ProgressSummary progress={p} name={c.name} />
            <ProgressDetail progress={p} />
            <p className="muted small">
              <Link to={`/deliveries?campaign_id=${c.id}`}>See every delivery</Link> ·{" "}
              <Link to={`/reports?campaign_id=${c.id}&group_by=channel,day,status`}>report</Link> · <Link to={`/dead-letters?campaign_id=${c.id}`}>dead letters</Link> ·{" "}
              {count(p.sent)} handed to a channel so far
            </p>
          </>
        )}
      </Loaded>
    </section>
  );
}

const STEP_PAST: Record<string, string> = {
  edit: "edited it",
  submit: "submitted it for review",
  approve: "approved it",
  reject: "rejected it",
  schedule: "scheduled it",
  start: "started sending",
  pause: "paused it",
  resume: "resumed it",
  complete: "finished sending",
  cancel: "cancelled it",
  invalidate: "found that what was approved had changed, so it is a draft again",
};

const STEP_LABEL: Record<Step, string> = {
  submit: "Submit for review",
  approve: "Approve",
  reject: "Reject",
  schedule: "Schedule",
  pause: "Pause",
  resume: "Resume",
  cancel: "Cancel campaign",
};

function Actions({ campaign: c, onChange }: { campaign: Campaign; onChange: (c: Campaign) => void }) {
  const { can } = useSession();
  const me = useOperator();
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<Step | "recall" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [recalled, setRecalled] = useState<string | null>(null);
  const author = c.created_by === me.id;
  const write = can("campaigns:write");

  const act = async (step: Step) => {
    if (step === "cancel" && !window.confirm("Cancel this campaign? Deliveries not yet made are dropped; this cannot be undone.")) return;
    setBusy(step);
    setError(null);
    try {
      const path = `/v1/campaigns/{id}/${step}` as const;
      const next = await call(api.POST(path, { params: { path: { id: c.id } }, body: comment.trim() ? { comment: comment.trim() } : {} }));
      setComment("");
      toast.success(`${STEP_LABEL[step]}: done. The campaign is now ${next.status.replace(/_/g, " ")}.`);
      onChange(next);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  };

  const recall = async () => {
    const question =
      "Recall this campaign? Its inbox messages leave every inbox now, and nothing more is sent. " +
      "Email, push, webhook and MQTT messages already delivered cannot be taken back.";
    if (!window.confirm(question)) return;
    setBusy("recall");
    setError(null);
    try {
      const report = await call(api.POST("/v1/campaigns/{id}/recall", { params: { path: { id: c.id } } }));
      setRecalled(recallText(report));
      onChange(await call(api.GET("/v1/campaigns/{id}", { params: { path: { id: c.id } } })));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  };

  const steps: Step[] = [];
  if (write && (c.status === "draft" || c.status === "rejected")) steps.push("submit");
  const mayReview = c.status === "in_review" && can("campaigns:review") && !author;
  if (mayReview) steps.push("approve", "reject");
  if (write && c.status === "approved") steps.push("schedule");
  if (write && (c.status === "scheduled" || c.status === "running")) steps.push("pause");
  if (write && c.status === "paused") steps.push("resume");
  if (write && !["completed", "cancelled"].includes(c.status)) steps.push("cancel");
  const editable = write && ["draft", "rejected", "in_review", "approved"].includes(c.status);
  const needsComment = steps.includes("reject") || steps.includes("submit");
  const waiting = c.status === "in_review";
  const recallable = write && !c.recalled_at && ["running", "paused", "completed", "cancelled"].includes(c.status);
  if (steps.length === 0 && !editable && !error && !waiting && !recallable && !recalled) return null;

  return (
    <section className="card actions" aria-label="Actions">
      {recalled && <Notice kind="success">{recalled}</Notice>}
      <ErrorNotice error={error} />
      {c.status === "in_review" && can("campaigns:review") && author && (
        <Notice kind="info">You wrote this campaign, so another reviewer has to approve or reject it.</Notice>
      )}
      {c.status === "in_review" && !can("campaigns:review") && <Notice>Waiting for a reviewer.</Notice>}
      {needsComment && (
        <Field label={mayReview ? "Review comment" : "Note for the reviewer (optional)"} hint={mayReview ? "Required to reject; shown in the campaign's history." : undefined}>
          {(p) => <textarea {...p} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />}
        </Field>
      )}
      <div className="action-row">
        {steps.filter((step) => step !== "cancel").map((step) => (
          <Button
            key={step}
            kind={step === "approve" || step === "submit" || step === "schedule" ? "primary" : step === "reject" ? "danger" : "secondary"}
            busy={busy === step}
            disabled={busy !== null && busy !== step}
            onClick={() => void act(step)}
          >
            {STEP_LABEL[step]}
          </Button>
        ))}
        {editable && (
          <Link to={`/campaigns/${c.id}/edit`} className="btn btn-secondary">
            Edit
          </Link>
        )}
        {(steps.includes("cancel") || recallable) && (
          <span className="push-right">
            {recallable && (
              <Button kind="danger" busy={busy === "recall"} disabled={busy !== null && busy !== "recall"} onClick={() => void recall()}>
                Recall
              </Button>
            )}{" "}
            {steps.includes("cancel") && (
              <Button kind="danger" busy={busy === "cancel"} disabled={busy !== null && busy !== "cancel"} onClick={() => void act("cancel")}>
                {STEP_LABEL.cancel}
              </Button>
            )}
          </span>
        )}
      </div>
    </section>
  );
}

/// What a recall did, in a sentence per part.
function recallText(report: Schemas["RecallOut"]): string {
  const counts = (byChannel: Record<string, number>) =>
    Object.entries(byChannel)
      .map(([channel, n]) => `${channel} ${n}`)
      .join(", ");
  const parts = [
    report.message_id == null
      ? "Recalled: nothing had been sent yet."
      : `Recalled: withdrawn from ${report.withdrawn} inbox${report.withdrawn === 1 ? "" : "es"}.`,
  ];
  if (Object.keys(report.cancelled).length > 0) parts.push(`Cancelled before sending: ${counts(report.cancelled)}.`);
  if (Object.keys(report.beyond_reach).length > 0) parts.push(`Already delivered, beyond reach: ${counts(report.beyond_reach)}.`);
  return parts.join(" ");
}
