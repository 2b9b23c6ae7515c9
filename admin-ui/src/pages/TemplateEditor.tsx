// One template: its content per channel (a new version on each save), a preview of a
// saved version for a chosen subscriber, and the version history.
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api, type Schemas } from "../api/client";
import { ApiFailure, call, describe, fieldError } from "../api/errors";
import { useSession } from "../lib/auth";
import { when } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { useApi } from "../lib/useApi";
import { Button, ErrorNotice, Field, Loading, Notice, PageHeader } from "../ui/kit";
import { TemplatePreview, type DraftContent } from "../ui/TemplatePreview";
import { CHANNEL_NAMES, CHANNELS, contentOf, draftOf, emptyDraft, parseKeys, type ChannelKind, type Draft } from "../ui/templateContent";
import { useToast } from "../ui/toasts";

/** How long typing must pause before the preview follows unsaved edits. */
const PREVIEW_PAUSE_MS = 700;

type Version = Schemas["VersionOut"];

export function TemplateEditor({ params }: { params: Record<string, string> }) {
  const id = params.id ? Number(params.id) : null;
  const detail = useApi(
    () => (id === null ? Promise.resolve(null) : call(api.GET("/v1/templates/{id}", { params: { path: { id } } }))),
    [id],
  );
  if (id !== null && Number.isNaN(id)) return <ErrorNotice error={new Error("No such template.")} />;
  if (detail.error && !detail.data) return <ErrorNotice error={detail.error} title="Could not load the template." />;
  if (detail.data === undefined) return <Loading />;
  return <Editor key={id ?? "new"} detail={detail.data} />;
}

function Editor({ detail }: { detail: Schemas["TemplateDetailOut"] | null }) {
  const { can } = useSession();
  const editable = can("templates:write");
  const templateId = detail?.template.id ?? null;
  const [name, setName] = useState(detail?.template.name ?? "");
  const [description, setDescription] = useState(detail?.template.description ?? "");
  const [keys, setKeys] = useState((detail?.latest.data_keys ?? []).join(", "));
  const [draft, setDraft] = useState<Draft>(detail ? draftOf(detail.latest.content) : emptyDraft());
  const [base, setBase] = useState<Version | null>(detail?.latest ?? null);
  const [tab, setTab] = useState<ChannelKind>(() => CHANNELS.find((c) => draft[c].on) ?? "inbox");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [previewVersion, setPreviewVersion] = useState<number | null>(detail?.latest.version ?? null);
  /// The unsaved content last rendered (`POST /v1/templates/preview`): it follows the
  /// edits once typing pauses, or at once on request.
  const [shownDraft, setShownDraft] = useState<DraftContent | null>(null);

  const versions = useApi(
    () => (templateId === null ? Promise.resolve([] as Version[]) : call(api.GET("/v1/templates/{id}/versions", { params: { path: { id: templateId } } }))),
    [templateId],
  );

  const dirty = useMemo(() => {
    if (!base) return true;
    return (
      JSON.stringify(contentOf(draft)) !== JSON.stringify(contentOf(draftOf(base.content))) ||
      parseKeys(keys).join(",") !== base.data_keys.join(",")
    );
  }, [draft, keys, base]);

  const current = useMemo<DraftContent>(() => ({ content: contentOf(draft), dataKeys: parseKeys(keys) }), [draft, keys]);
  const draftShown = shownDraft !== null && JSON.stringify(shownDraft) === JSON.stringify(current);
  useEffect(() => {
    if (!dirty) setShownDraft(null);
  }, [dirty]);
  useEffect(() => {
    if (!editable || !dirty) return;
    const pause = setTimeout(() => setShownDraft(current), PREVIEW_PAUSE_MS);
    return () => clearTimeout(pause);
  }, [current, dirty, editable]);

  // A field error inside a channel's content opens that channel's tab.
  useEffect(() => {
    if (error instanceof ApiFailure && error.field) {
      const channel = CHANNELS.find((c) => error.field?.startsWith(`content.${c}`));
      if (channel) setTab(channel);
    }
  }, [error]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    const content = contentOf(draft);
    const data_keys = parseKeys(keys);
    try {
      if (templateId === null) {
        const created = await call(api.POST("/v1/templates", { body: { name: name.trim(), description, data_keys, content } }));
        toast.success(`Template ${created.template.name} created.`);
        navigate(`/templates/${created.template.id}`, { replace: true });
        return;
      }
      const version = await call(
        api.POST("/v1/templates/{id}/versions", { params: { path: { id: templateId } }, body: { content, data_keys } }),
      );
      setBase(version);
      setPreviewVersion(version.version);
      toast.success(`Saved as version ${version.version}.`);
      versions.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const update = <C extends ChannelKind>(channel: C, patch: Partial<Draft[C]>) =>
    setDraft((d) => ({ ...d, [channel]: { ...d[channel], ...patch } }));

  const err = (field: string) => fieldError(error, field);
  const unplaced = error instanceof ApiFailure && error.field ? !placedFields.some((f) => error.field === f || error.field?.startsWith(`${f}.`)) : true;

  return (
    <>
      <PageHeader
        title={templateId === null ? "New template" : name}
        subtitle={templateId === null ? "Write the content for each channel that should carry it." : `Version ${base?.version ?? "?"}${dirty && editable ? " · unsaved changes" : ""}`}
      >
        <Link to="/templates" className="btn btn-ghost">
          All templates
        </Link>
      </PageHeader>
      <div className="split">
        <form className="card editor" onSubmit={save} aria-label="Template content" noValidate>
          {error ? (
            <div className="notice notice-error" role="alert">
              {error instanceof ApiFailure && error.field && !unplaced ? "Fix the marked field: " : ""}
              {describe(error)}
              {error instanceof ApiFailure && error.field && unplaced ? ` (${error.field})` : ""}
            </div>
          ) : null}
          {saved && <Notice kind="success">{saved}</Notice>}
          {!editable && <Notice>You can read templates; editors change them.</Notice>}
          <fieldset disabled={!editable || busy}>
            <div className="row">
              <Field label="Name" error={err("name")} hint={templateId !== null ? "A template's name is fixed once created." : undefined}>
                {(p) => <input {...p} required value={name} readOnly={templateId !== null} onChange={(e) => setName(e.target.value)} />}
              </Field>
              <Field label="Data keys" error={err("data_keys")} hint="Per-send values the content may use as {{ data.key }}, separated by commas.">
                {(p) => <input {...p} value={keys} placeholder="order_id, amount" onChange={(e) => setKeys(e.target.value)} />}
              </Field>
            </div>
            {templateId === null && (
              <Field label="Description" error={err("description")}>
                {(p) => <input {...p} value={description} onChange={(e) => setDescription(e.target.value)} />}
              </Field>
            )}
          </fieldset>
          <ChannelTabs draft={draft} tab={tab} setTab={setTab} error={error} />
          <fieldset disabled={!editable || busy}>
            <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
              <label className="check">
                <input type="checkbox" checked={draft[tab].on} onChange={(e) => update(tab, { on: e.target.checked })} /> Send on {CHANNEL_NAMES[tab]}
              </label>
              {(err("content") ?? err(`content.${tab}`)) && (
                <p className="field-error" role="alert">
                  {err("content") ?? err(`content.${tab}`)}
                </p>
              )}
              {draft[tab].on && <ChannelFields tab={tab} draft={draft} update={update} err={err} />}
            </div>
            <p className="hint">
              Variables: <code>{"{{ subscriber.email }}"}</code>, <code>{"{{ subscriber.attributes.plan }}"}</code>, <code>{"{{ data.key }}"}</code> for a declared data key. Unknown variables are refused when saving.
            </p>
          </fieldset>
          {editable && (
            <div className="form-actions">
              <Button kind="primary" type="submit" busy={busy} disabled={!dirty}>
                {templateId === null ? "Create template" : "Save new version"}
              </Button>
            </div>
          )}
        </form>
        <div className="side">
          {editable && dirty && (
            <Notice kind={draftShown ? "info" : "warning"}>
              {draftShown ? "The preview shows your unsaved changes." : "You have unsaved changes."}{" "}
              {!draftShown && <Button onClick={() => setShownDraft(current)}>Preview unsaved changes</Button>}
            </Notice>
          )}
          {shownDraft && editable && dirty ? (
            <TemplatePreview draft={shownDraft} dataKeys={shownDraft.dataKeys} />
          ) : templateId === null || previewVersion === null ? (
            <section className="card">
              <h2>Preview</h2>
              <p className="muted">Preview your unsaved changes, or create the template to preview it for a subscriber.</p>
            </section>
          ) : (
            <TemplatePreview templateId={templateId} version={previewVersion} dataKeys={versions.data?.find((v) => v.version === previewVersion)?.data_keys ?? base?.data_keys ?? []} />
          )}
          {templateId !== null && (
            <section className="card" aria-labelledby="history-title">
              <h2 id="history-title">Version history</h2>
              {versions.error ? <ErrorNotice error={versions.error} /> : null}
              {!versions.data ? (
                <Loading />
              ) : (
                <ol className="versions" reversed>
                  {[...versions.data]
                    .sort((a, b) => b.version - a.version)
                    .map((v) => (
                      <li key={v.version} className={v.version === previewVersion ? "selected" : undefined}>
                        <span>
                          <strong>v{v.version}</strong> <span className="muted">{when(v.created_at)}</span>
                        </span>
                        <span className="version-actions">
                          <Button kind="ghost" onClick={() => setPreviewVersion(v.version)} aria-pressed={v.version === previewVersion}>
                            Preview
                          </Button>
                          {editable && (
                            <Button
                              kind="ghost"
                              onClick={() => {
                                setDraft(draftOf(v.content));
                                setKeys(v.data_keys.join(", "));
                                setSaved(`Loaded version ${v.version} into the editor; save to make it the latest.`);
                              }}
                            >
                              Edit from here
                            </Button>
                          )}
                        </span>
                      </li>
                    ))}
                </ol>
              )}
            </section>
          )}
        </div>
      </div>
    </>
  );
}

const placedFields = [
  "name",
  "data_keys",
  "description",
  "content",
  ...CHANNELS.map((c) => `content.${c}`),
];

function ChannelTabs({ draft, tab, setTab, error }: { draft: Draft; tab: ChannelKind; setTab: (c: ChannelKind) => void; error: unknown }) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const onKey = (event: KeyboardEvent) => {
    const at = CHANNELS.indexOf(tab);
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (step === 0) return;
    event.preventDefault();
    const next = CHANNELS[(at + step + CHANNELS.length) % CHANNELS.length] ?? "inbox";
    setTab(next);
    refs.current[next]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Channels" onKeyDown={onKey}>
      {CHANNELS.map((c) => {
        const broken = error instanceof ApiFailure && error.field?.startsWith(`content.${c}`);
        return (
          <button
            key={c}
            ref={(el) => {
              refs.current[c] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${c}`}
            aria-selected={tab === c}
            aria-controls={`panel-${c}`}
            tabIndex={tab === c ? 0 : -1}
            className={`tab${draft[c].on ? " tab-on" : ""}${broken ? " tab-error" : ""}`}
            onClick={() => setTab(c)}
          >
            {CHANNEL_NAMES[c]}
            {draft[c].on && <span className="tab-dot" aria-label="(included)" />}
          </button>
        );
      })}
    </div>
  );
}

type Update = <C extends ChannelKind>(channel: C, patch: Partial<Draft[C]>) => void;

function ChannelFields({ tab, draft, update, err }: { tab: ChannelKind; draft: Draft; update: Update; err: (f: string) => string | undefined }) {
  switch (tab) {
    case "inbox":
    case "push":
      return (
        <>
          <Field label="Title" error={err(`content.${tab}.title`)}>
            {(p) => <input {...p} value={draft[tab].title} onChange={(e) => update(tab, { title: e.target.value })} />}
          </Field>
          <Field label="Body" error={err(`content.${tab}.body`)}>
            {(p) => <textarea {...p} rows={5} value={draft[tab].body} onChange={(e) => update(tab, { body: e.target.value })} />}
          </Field>
          {Object.keys(draft[tab].data).length > 0 && (
            <p className="hint">Extra data fields kept from the loaded version: {Object.keys(draft[tab].data).join(", ")}.</p>
          )}
        </>
      );
    case "email":
      return (
        <>
          <Field label="Subject" error={err("content.email.subject")}>
            {(p) => <input {...p} value={draft.email.subject} onChange={(e) => update("email", { subject: e.target.value })} />}
          </Field>
          <Field label="HTML body" error={err("content.email.html")} hint="Values are HTML-escaped when printed.">
            {(p) => <textarea {...p} className="code" rows={8} value={draft.email.html} onChange={(e) => update("email", { html: e.target.value })} />}
          </Field>
          <Field label="Plain-text body" error={err("content.email.text")}>
            {(p) => <textarea {...p} rows={5} value={draft.email.text} onChange={(e) => update("email", { text: e.target.value })} />}
          </Field>
          <div className="row">
            <Field label="From (optional)" error={err("content.email.from")} hint="The sender, e.g. Shop News <news@shop.example>; the server's email_from otherwise.">
              {(p) => <input {...p} value={draft.email.from} onChange={(e) => update("email", { from: e.target.value })} />}
            </Field>
            <Field label="Reply-To (optional)" error={err("content.email.reply_to")}>
              {(p) => <input {...p} value={draft.email.replyTo} onChange={(e) => update("email", { replyTo: e.target.value })} />}
            </Field>
          </div>
        </>
      );
    case "webhook":
    case "mqtt":
      return (
        <Field label="Payload (JSON)" error={err(`content.${tab}.payload`)} hint="Values print as JSON: {&quot;name&quot;: {{ subscriber.email }}}.">
          {(p) => <textarea {...p} className="code" rows={8} value={draft[tab].payload} onChange={(e) => update(tab, { payload: e.target.value })} />}
        </Field>
      );
  }
}
