// Creating (or editing) a campaign in steps: content, audience, channels, schedule,
// then a summary to confirm. The API checks everything again; a field it refuses
// brings its step back with the message at the field.
import { useEffect, useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { ApiFailure, call, fieldError } from "../api/errors";
import { count, localInputToIso, when } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, ErrorNotice, Field, Loading, PageHeader } from "../ui/kit";
import { scheduleText, type Schedule } from "../ui/schedule";
import { CHANNELS, channelsOf, type ChannelKind } from "../ui/templateContent";

type CampaignIn = Schemas["CampaignIn"];
const STEPS = ["Content", "Audience", "Channels", "Schedule", "Confirm"] as const;
const STEP_OF_FIELD: Record<string, number> = {
  name: 0, category: 0, template_id: 0, template_version: 0, data: 0,
  audience_id: 1, channels: 2, instances: 2, schedule: 3, priority: 3, expires_at: 3,
};

type Form = {
  name: string;
  category: string;
  templateId: number | null;
  version: number | null;
  data: Record<string, string>;
  audienceId: number | null;
  channels: ChannelKind[];
  /// Channel instances chosen by name, at most one per kind; none: each kind's default.
  instances: string[];
  when: "now" | "at" | "local_time";
  at: string;
  date: string;
  time: string;
  priority: string;
  expires: string;
};

const blank: Form = {
  name: "", category: "news", templateId: null, version: null, data: {}, audienceId: null, channels: [], instances: [],
  when: "now", at: "", date: "", time: "09:00", priority: "5", expires: "",
};

/// `datetime-local` value for an instant, in the browser's zone.
function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function formOf(c: Schemas["CampaignOut"]): Form {
  const s = c.schedule;
  return {
    name: c.name, category: c.category, templateId: c.template_id, version: c.template_version,
    data: Object.fromEntries(Object.entries(c.data ?? {}).map(([k, v]) => [k, String(v)])),
    audienceId: c.audience_id, channels: c.channels, instances: c.instances ?? [], when: s?.kind ?? "now",
    at: s?.kind === "at" ? toLocalInput(s.at) : "", date: s?.kind === "local_time" ? s.date : "",
    time: s?.kind === "local_time" ? s.time : "09:00", priority: String(c.priority), expires: toLocalInput(c.expires_at),
  };
}

export function CampaignWizard({ params }: { params: Record<string, string> }) {
  const id = params.id ? Number(params.id) : null;
  const existing = useApi(() => (id === null ? Promise.resolve(null) : call(api.GET("/v1/campaigns/{id}", { params: { path: { id } } }))), [id]);
  if (existing.error) return <ErrorNotice error={existing.error} title="Could not load the campaign." />;
  if (existing.data === undefined) return <Loading />;
  return <Wizard id={id} initial={existing.data ? formOf(existing.data) : blank} />;
}

function Wizard({ id, initial }: { id: number | null; initial: Form }) {
  const [form, setForm] = useState<Form>(initial);
  const [step, setStep] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const templates = useApi(() => call(api.GET("/v1/templates")), []);
  const audiences = useApi(() => call(api.GET("/v1/audiences")), []);
  const choices = useApi(() => call(api.GET("/v1/channel-choices")), []);
  const versions = useApi(
    () => (form.templateId === null ? Promise.resolve([]) : call(api.GET("/v1/templates/{id}/versions", { params: { path: { id: form.templateId } } }))),
    [form.templateId],
  );
  const size = useApi(
    () => (form.audienceId === null ? Promise.resolve(null) : call(api.GET("/v1/audiences/{id}/count", { params: { path: { id: form.audienceId } } }))),
    [form.audienceId],
  );

  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const sortedVersions = [...(versions.data ?? [])].sort((a, b) => b.version - a.version);
  const version = sortedVersions.find((v) => v.version === form.version) ?? sortedVersions[0];
  const available = version ? channelsOf(version.content) : [];
  // Kinds with more than one enabled instance on a chosen channel: the campaign may pick.
  const enabled = (choices.data ?? []).filter((c) => c.enabled);
  const pickable = [...new Set(enabled.filter((c) => c.channel && form.channels.includes(c.channel)).map((c) => c.kind))]
    .map((kind) => ({ kind, instances: enabled.filter((c) => c.kind === kind) }))
    .filter((group) => group.instances.length > 1);
  const kindOf = (name: string) => choices.data?.find((c) => c.name === name)?.kind;
  const chosenFor = (kind: string) => form.instances.find((name) => kindOf(name) === kind) ?? "";
  const choose = (kind: string, name: string) =>
    set({ instances: [...form.instances.filter((n) => kindOf(n) !== kind), ...(name ? [name] : [])] });
  // Only choices for the channels the campaign sends over are kept.
  const instancesSent = form.instances.filter((name) => {
    const channel = choices.data?.find((c) => c.name === name)?.channel;
    return channel === undefined || (channel !== null && form.channels.includes(channel));
  });

  // A template's channels are the default choice; channels it has no content for go.
  useEffect(() => {
    if (!version) return;
    setForm((f) => {
      const kept = f.channels.filter((c) => available.includes(c));
      return { ...f, channels: kept.length > 0 ? kept : available };
    });
  }, [version?.template_id, version?.version]);

  useEffect(() => {
    if (error instanceof ApiFailure && error.field) {
      const at = STEP_OF_FIELD[error.field.split(".")[0] ?? ""];
      if (at !== undefined) setStep(at);
    }
  }, [error]);

  const stepProblem = (at: number): string | null => {
    if (at === 0) {
      if (!form.name.trim()) return "Give the campaign a name.";
      if (!form.category.trim()) return "Give a category (rules and opt-outs apply per category).";
      if (form.templateId === null) return "Choose a template.";
      const missing = (version?.data_keys ?? []).filter((k) => !form.data[k]);
      if (missing.length > 0) return `Fill in the template's data: ${missing.join(", ")}.`;
    }
    if (at === 1 && form.audienceId === null) return "Choose an audience.";
    if (at === 2 && form.channels.length === 0) return "Choose at least one channel.";
    if (at === 3) {
      if (form.when === "at" && !localInputToIso(form.at)) return "Choose when to send.";
      if (form.when === "local_time" && (!form.date || !form.time)) return "Choose the date and the local time.";
    }
    return null;
  };
  const [problem, setProblem] = useState<string | null>(null);

  const next = (event: FormEvent) => {
    event.preventDefault();
    const found = stepProblem(step);
    setProblem(found);
    if (found) return;
    if (step < STEPS.length - 1) setStep(step + 1);
    else void save();
  };

  const schedule = (): Schedule =>
    form.when === "at"
      ? { kind: "at", at: localInputToIso(form.at) ?? "" }
      : form.when === "local_time"
        ? { kind: "local_time", date: form.date, time: form.time }
        : { kind: "now" };

  const body = (): CampaignIn => ({
    name: form.name.trim(),
    category: form.category.trim(),
    template_id: form.templateId ?? 0,
    template_version: version?.version ?? null,
    audience_id: form.audienceId ?? 0,
    channels: form.channels,
    instances: instancesSent,
    data: Object.fromEntries((version?.data_keys ?? []).map((k) => [k, form.data[k] ?? ""])),
    schedule: schedule(),
    priority: Number(form.priority),
    expires_at: localInputToIso(form.expires),
  });

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const saved =
        id === null
          ? await call(api.POST("/v1/campaigns", { body: body() }))
          : await call(api.PUT("/v1/campaigns/{id}", { params: { path: { id } }, body: body() }));
      navigate(`/campaigns/${saved.id}`, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  const err = (field: string) => fieldError(error, field);
  const template = templates.data?.find((t) => t.id === form.templateId);
  const audience = audiences.data?.find((a) => a.id === form.audienceId);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  return (
    <>
      <PageHeader title={id === null ? "New campaign" : `Edit campaign`} subtitle={id !== null ? "Saving returns the campaign to draft; it needs review again." : undefined}>
        <Link to={id === null ? "/campaigns" : `/campaigns/${id}`} className="btn btn-ghost">
          Cancel
        </Link>
      </PageHeader>
      <ol className="stepper" aria-label="Steps">
        {STEPS.map((name, i) => (
          <li key={name} aria-current={i === step ? "step" : undefined} className={i < step ? "done" : undefined}>
            <button type="button" onClick={() => i < step && setStep(i)} disabled={i >= step}>
              <span className="step-number">{i + 1}</span> {name}
            </button>
          </li>
        ))}
      </ol>
      <form className="card narrow-form" onSubmit={next} noValidate aria-label={`Step ${step + 1}: ${STEPS[step]}`}>
        <h2>{STEPS[step]}</h2>
        {error ? <ErrorNotice error={error} /> : null}
        {problem && (
          <div className="notice notice-warning" role="alert">
            {problem}
          </div>
        )}
        {step === 0 && (
          <>
            <Field label="Campaign name" error={err("name")}>
              {(p) => <input {...p} required value={form.name} onChange={(e) => set({ name: e.target.value })} />}
            </Field>
            <Field label="Category" error={err("category")} hint="What kind of message this is, e.g. news or orders. Rules and opt-outs apply per category.">
              {(p) => <input {...p} required value={form.category} onChange={(e) => set({ category: e.target.value })} />}
            </Field>
            <div className="row">
              <Field label="Template" error={err("template_id")}>
                {(p) => (
                  <select {...p} value={form.templateId ?? ""} onChange={(e) => set({ templateId: e.target.value ? Number(e.target.value) : null, version: null })}>
                    <option value="">Choose a template…</option>
                    {templates.data?.map((t) => (
                      <option key={t.id} value={t.id}>
                        {t.name}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <Field label="Version" error={err("template_version")}>
                {(p) => (
                  <select {...p} value={version?.version ?? ""} disabled={!sortedVersions.length} onChange={(e) => set({ version: Number(e.target.value) })}>
                    {sortedVersions.map((v, i) => (
                      <option key={v.version} value={v.version}>
                        v{v.version}
                        {i === 0 ? " (latest)" : ""} · {when(v.created_at)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
            {templates.data?.length === 0 && (
              <p className="hint">
                No templates yet: <Link to="/templates/new">create one</Link> first.
              </p>
            )}
            {(version?.data_keys ?? []).map((key) => (
              <Field key={key} label={`data.${key}`} error={err(`data.${key}`)} hint="A value the template prints for every recipient.">
                {(p) => <input {...p} value={form.data[key] ?? ""} onChange={(e) => set({ data: { ...form.data, [key]: e.target.value } })} />}
              </Field>
            ))}
          </>
        )}
        {step === 1 && (
          <>
            <Field label="Audience" error={err("audience_id")}>
              {(p) => (
                <select {...p} value={form.audienceId ?? ""} onChange={(e) => set({ audienceId: e.target.value ? Number(e.target.value) : null })}>
                  <option value="">Choose an audience…</option>
                  {audiences.data?.map((a) => (
                    <option key={a.id} value={a.id}>
                      {a.name} ({a.kind})
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <p aria-live="polite">
              {form.audienceId !== null && (size.data ? <><strong>{count(size.data.count)}</strong> subscribers right now.</> : size.error ? null : "Counting…")}
            </p>
            {size.error ? <ErrorNotice error={size.error} /> : null}
            {audiences.data?.length === 0 && (
              <p className="hint">
                No audiences yet: <Link to="/audiences/new">create one</Link> first.
              </p>
            )}
          </>
        )}
        {step === 2 && (
          <fieldset className="choices">
            <legend>Send over</legend>
            {CHANNELS.map((c) => (
              <label key={c} className={`choice${available.includes(c) ? "" : " disabled"}`}>
                <input
                  type="checkbox"
                  checked={form.channels.includes(c)}
                  disabled={!available.includes(c)}
                  onChange={(e) => set({ channels: e.target.checked ? [...form.channels, c] : form.channels.filter((x) => x !== c) })}
                />
                <span>
                  <strong>{c}</strong>
                  {!available.includes(c) && <span className="hint">The template has no {c} content.</span>}
                </span>
              </label>
            ))}
            {err("channels") && <p className="field-error">{err("channels")}</p>}
          </fieldset>
        )}
        {step === 2 &&
          pickable.map(({ kind, instances }) => (
            <Field
              key={kind}
              label={`Send ${kind} through`}
              error={err("instances")}
              hint="Sends that choose none go through the first enabled instance of the kind, by name."
            >
              {(p) => (
                <select {...p} value={chosenFor(kind)} onChange={(e) => choose(kind, e.target.value)}>
                  <option value="">The default ({instances.find((c) => c.default)?.name})</option>
                  {instances.map((c) => (
                    <option key={c.name} value={c.name}>
                      {c.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ))}
        {step === 3 && (
          <>
            <fieldset className="choices">
              <legend>When</legend>
              <label className="choice">
                <input type="radio" name="when" checked={form.when === "now"} onChange={() => set({ when: "now" })} />
                <span>
                  <strong>Right away</strong>
                  <span className="hint">As soon as it is approved and scheduled.</span>
                </span>
              </label>
              <label className="choice">
                <input type="radio" name="when" checked={form.when === "at"} onChange={() => set({ when: "at" })} />
                <span>
                  <strong>At a time</strong>
                  <span className="hint">One instant for everyone.</span>
                </span>
              </label>
              <label className="choice">
                <input type="radio" name="when" checked={form.when === "local_time"} onChange={() => set({ when: "local_time" })} />
                <span>
                  <strong>At a local time</strong>
                  <span className="hint">This wall-clock time on this date in each subscriber's own time zone.</span>
                </span>
              </label>
            </fieldset>
            {form.when === "at" && (
              <Field label="Send at" error={err("schedule.at") ?? err("schedule")} hint={`Your time zone (${zone}).`}>
                {(p) => <input {...p} type="datetime-local" value={form.at} onChange={(e) => set({ at: e.target.value })} />}
              </Field>
            )}
            {form.when === "local_time" && (
              <div className="row">
                <Field label="Date" error={err("schedule.date") ?? err("schedule")}>
                  {(p) => <input {...p} type="date" value={form.date} onChange={(e) => set({ date: e.target.value })} />}
                </Field>
                <Field label="Local time" error={err("schedule.time")}>
                  {(p) => <input {...p} type="time" value={form.time} onChange={(e) => set({ time: e.target.value })} />}
                </Field>
              </div>
            )}
            <div className="row">
              <Field label="Priority" error={err("priority")} hint="0 (lowest) to 10 (highest).">
                {(p) => <input {...p} type="number" min={0} max={10} value={form.priority} onChange={(e) => set({ priority: e.target.value })} />}
              </Field>
              <Field label="Expires (optional)" error={err("expires_at")} hint="Deliveries not made by then are dropped.">
                {(p) => <input {...p} type="datetime-local" value={form.expires} onChange={(e) => set({ expires: e.target.value })} />}
              </Field>
            </div>
          </>
        )}
        {step === 4 && (
          <dl className="summary">
            <dt>Name</dt>
            <dd>{form.name}</dd>
            <dt>Category</dt>
            <dd>{form.category}</dd>
            <dt>Template</dt>
            <dd>
              {template?.name ?? `#${form.templateId}`} v{version?.version}
            </dd>
            <dt>Audience</dt>
            <dd>
              {audience?.name ?? `#${form.audienceId}`}
              {size.data ? ` (${count(size.data.count)} now)` : ""}
            </dd>
            <dt>Channels</dt>
            <dd>{form.channels.join(", ")}</dd>
            <dt>Through</dt>
            <dd>{instancesSent.length > 0 ? instancesSent.join(", ") : "The default instance of each channel"}</dd>
            <dt>Schedule</dt>
            <dd>{scheduleText(schedule())}</dd>
            <dt>Priority</dt>
            <dd>{form.priority}</dd>
            {form.expires && (
              <>
                <dt>Expires</dt>
                <dd>{when(localInputToIso(form.expires))}</dd>
              </>
            )}
          </dl>
        )}
        <div className="form-actions">
          {step > 0 && (
            <Button onClick={() => { setProblem(null); setStep(step - 1); }} disabled={busy}>
              Back
            </Button>
          )}
          <Button kind="primary" type="submit" busy={busy}>
            {step < STEPS.length - 1 ? "Next" : id === null ? "Create draft" : "Save changes"}
          </Button>
        </div>
      </form>
    </>
  );
}
