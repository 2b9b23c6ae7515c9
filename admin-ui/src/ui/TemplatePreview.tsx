// Renders a saved template version, or an editor's unsaved draft, through the API for a
// chosen subscriber (or sample fields) and per-send data, as each channel's recipient
// would see it. Re-renders as the inputs change.
import { useId, useMemo, useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useApi, useDebounced } from "../lib/useApi";
import { ErrorNotice, Field, Loading } from "./kit";

type Rendered = Schemas["RenderedContent"];
/// Content not saved yet, rendered by `POST /v1/templates/preview`.
export type DraftContent = { content: Schemas["TemplateContent"]; dataKeys: string[] };

export function TemplatePreview({
  templateId,
  version,
  dataKeys,
  initialSubscriber = "",
  initialData = {},
  title = "Preview",
  channels,
  draft = null,
}: {
  templateId?: number | null;
  version?: number | null;
  dataKeys: string[];
  initialSubscriber?: string;
  initialData?: Record<string, string>;
  title?: string;
  /// Only these channels' content (a campaign's); every channel when absent.
  channels?: string[];
  /// Render this unsaved content instead of the saved version.
  draft?: DraftContent | null;
}) {
  const listId = useId();
  const [subscriber, setSubscriber] = useState(initialSubscriber);
  const [data, setData] = useState<Record<string, string>>(initialData);
  const subscribers = useApi(() => call(api.GET("/v1/subscribers", { params: { query: { limit: 50 } } })), []);
  const inputs = useDebounced(useMemo(() => ({ subscriber: subscriber.trim(), data }), [subscriber, data]), 350);

  const missing = dataKeys.filter((key) => !inputs.data[key]);
  const rendered = useApi<Rendered | null>(
    () =>
      missing.length > 0
        ? Promise.resolve(null)
        : call(render(inputs, templateId ?? null, version ?? null, draft)),
    [templateId, version, inputs, draft],
  );

  return (
    <section className="card preview" aria-labelledby={`${listId}-title`} aria-busy={rendered.loading}>
      <h2 id={`${listId}-title`}>
        {title} <span className="muted">{draft ? "unsaved changes" : `v${version}`}</span>
      </h2>
      <Field label="Subscriber" hint={subscriber ? undefined : "Empty: a sample subscriber (sample@example.com)."}>
        {(p) => (
          <>
            <input {...p} list={`${listId}-subscribers`} value={subscriber} placeholder="external id" onChange={(e) => setSubscriber(e.target.value)} />
            <datalist id={`${listId}-subscribers`}>
              {subscribers.data?.items.map((s) => (
                <option key={s.external_id} value={s.external_id}>
                  {s.email ?? ""}
                </option>
              ))}
            </datalist>
          </>
        )}
      </Field>
      {dataKeys.map((key) => (
        <Field key={key} label={`data.${key}`}>
          {(p) => <input {...p} value={data[key] ?? ""} onChange={(e) => setData((d) => ({ ...d, [key]: e.target.value }))} />}
        </Field>
      ))}
      <div aria-live="polite">
        {missing.length > 0 ? <p className="muted">Fill in {missing.map((k) => `data.${k}`).join(", ")} to preview.</p> : null}
        {rendered.error ? <ErrorNotice error={rendered.error} title="Cannot render:" /> : null}
        {rendered.data === undefined && !rendered.error ? <Loading what="Rendering" /> : null}
        {rendered.data && !rendered.error && missing.length === 0 ? <RenderedView rendered={rendered.data} channels={channels} /> : null}
      </div>
    </section>
  );
}

type Inputs = { subscriber: string; data: Record<string, string> };

/// The preview request: for a stored subscriber or a sample one, of a draft or a version.
function render(inputs: Inputs, templateId: number | null, version: number | null, draft: DraftContent | null) {
  const who = inputs.subscriber ? { subscriber: inputs.subscriber } : { sample: { email: "sample@example.com" } };
  if (draft) {
    return api.POST("/v1/templates/preview", { body: { ...who, content: draft.content, data_keys: draft.dataKeys, data: inputs.data } });
  }
  if (templateId === null || version === null) return Promise.reject(new Error("Nothing to preview yet."));
  return api.POST("/v1/templates/{id}/versions/{version}/preview", { params: { path: { id: templateId, version } }, body: { ...who, data: inputs.data } });
}

export function RenderedView({ rendered: all, channels }: { rendered: Rendered; channels?: string[] | undefined }) {
  const shown = (channel: keyof Rendered) => !channels || channels.includes(channel);
  const rendered: Rendered = {
    inbox: shown("inbox") ? all.inbox : null,
    email: shown("email") ? all.email : null,
    push: shown("push") ? all.push : null,
    webhook: shown("webhook") ? all.webhook : null,
    mqtt: shown("mqtt") ? all.mqtt : null,
  };
  return (
    <div className="rendered">
      {rendered.inbox && (
        <article className="rendered-item" aria-label="Inbox message">
          <p className="rendered-channel">Inbox</p>
          <p className="rendered-title">{rendered.inbox.title}</p>
          {rendered.inbox.body && <p className="rendered-body">{rendered.inbox.body}</p>}
        </article>
      )}
      {rendered.email && (
        <article className="rendered-item" aria-label="Email">
          <p className="rendered-channel">Email</p>
          <p className="rendered-title">{rendered.email.subject}</p>
          {rendered.email.html && (
            <iframe className="rendered-html" title="Email HTML body" sandbox="" srcDoc={rendered.email.html} />
          )}
          {rendered.email.text && <pre className="rendered-text">{rendered.email.text}</pre>}
        </article>
      )}
      {rendered.push && (
        <article className="rendered-item" aria-label="Push notification">
          <p className="rendered-channel">Push</p>
          <p className="rendered-title">{rendered.push.title}</p>
          {rendered.push.body && <p className="rendered-body">{rendered.push.body}</p>}
        </article>
      )}
      {rendered.webhook != null && (
        <article className="rendered-item" aria-label="Webhook body">
          <p className="rendered-channel">Webhook</p>
          <pre className="rendered-text">{JSON.stringify(rendered.webhook, null, 2)}</pre>
        </article>
      )}
      {rendered.mqtt != null && (
        <article className="rendered-item" aria-label="MQTT payload">
          <p className="rendered-channel">MQTT</p>
          <pre className="rendered-text">{JSON.stringify(rendered.mqtt, null, 2)}</pre>
        </article>
      )}
    </div>
  );
}
