// Block and allow lists: entries by subscriber, email, domain, phone or endpoint,
// global or for one channel, with an optional expiry; added one at a time or imported
// from CSV (bad rows are reported by line).
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../../api/client";
import { call, fieldError } from "../../api/errors";
import { useSession } from "../../lib/auth";
import { count, label, localInputToIso, when } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, Notice } from "../../ui/kit";
import { PagerControls, usePager } from "../../ui/Pager";
import { CHANNELS } from "../../ui/templateContent";
import { useToast } from "../../ui/toasts";

type ListName = Schemas["ListName"];
type EntryKind = Schemas["EntryKind"];
const KINDS: EntryKind[] = ["subscriber", "email", "email_domain", "phone", "endpoint"];

export function ListEntries() {
  const { can } = useSession();
  const [list, setList] = useState<ListName | "">("");
  const pager = usePager(list);
  const entries = useApi(
    () => call(api.GET("/v1/list-entries", { params: { query: { list: list || undefined, cursor: pager.cursor ?? undefined, limit: 50 } } })),
    [list, pager.cursor],
  );
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();

  const remove = async (entry: Schemas["ListEntryOut"]) => {
    setError(null);
    try {
      await call(api.DELETE("/v1/list-entries/{id}", { params: { path: { id: entry.id } } }));
      toast.success("List entry removed.");
      entries.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section className="card" aria-labelledby="lists-title">
      <div className="card-head">
        <h2 id="lists-title">Block and allow lists</h2>
        <div className="filters">
          <Field label="Show">
            {(p) => (
              <select {...p} value={list} onChange={(e) => setList(e.target.value as ListName | "")}>
                <option value="">both lists</option>
                <option value="block">block list</option>
                <option value="allow">allow list</option>
              </select>
            )}
          </Field>
        </div>
      </div>
      <ErrorNotice error={error} />
      <Loaded state={entries} what="list entries">
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="No list entries." />
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">List entries</caption>
                  <thead>
                    <tr>
                      <th scope="col">List</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Value</th>
                      <th scope="col">Channel</th>
                      <th scope="col">Reason</th>
                      <th scope="col">Expires</th>
                      {can("rules:write") && (
                        <th scope="col">
                          <span className="visually-hidden">Actions</span>
                        </th>
                      )}
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((e) => (
                      <tr key={e.id}>
                        <td>{e.list}</td>
                        <td>{label(e.kind)}</td>
                        <td>
                          <code>{e.value}</code>
                        </td>
                        <td>{e.channel ?? "every channel"}</td>
                        <td>{e.reason || "—"}</td>
                        <td>{e.expires_at ? when(e.expires_at) : "never"}</td>
                        {can("rules:write") && (
                          <td>
                            <Button kind="ghost" onClick={() => void remove(e)} aria-label={`Remove ${e.value} from the ${e.list} list`}>
                              Remove
                            </Button>
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <PagerControls pager={pager} next={page.next_cursor} />
            </>
          )
        }
      </Loaded>
      {can("rules:write") && (
        <div className="split split-even list-forms">
          <AddEntry added={entries.reload} />
          <ImportEntries imported={entries.reload} />
        </div>
      )}
    </section>
  );
}

function AddEntry({ added }: { added: () => void }) {
  const [form, setForm] = useState({ list: "block" as ListName, kind: "email" as EntryKind, value: "", channel: "", reason: "", expires: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<typeof form>) => setForm((f) => ({ ...f, ...patch }));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(
        api.POST("/v1/list-entries", {
          body: {
            list: form.list, kind: form.kind, value: form.value.trim(), reason: form.reason,
            channel: (form.channel || null) as Schemas["ChannelKind"] | null, expires_at: localInputToIso(form.expires),
          },
        }),
      );
      set({ value: "", reason: "" });
      added();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const err = (f: string) => fieldError(error, f);
  return (
    <form onSubmit={submit} aria-labelledby="add-entry-title" noValidate>
      <h3 id="add-entry-title">Add an entry</h3>
      {error && !err("value") ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="List">
          {(p) => (
            <select {...p} value={form.list} onChange={(e) => set({ list: e.target.value as ListName })}>
              <option value="block">block</option>
              <option value="allow">allow</option>
            </select>
          )}
        </Field>
        <Field label="Entry kind">
          {(p) => (
            <select {...p} value={form.kind} onChange={(e) => set({ kind: e.target.value as EntryKind })}>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {label(k)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label="Value" error={err("value")} hint="An external id, email, domain, phone number or endpoint address.">
        {(p) => <input {...p} value={form.value} onChange={(e) => set({ value: e.target.value })} />}
      </Field>
      <div className="row">
        <Field label="Only on channel">
          {(p) => (
            <select {...p} value={form.channel} onChange={(e) => set({ channel: e.target.value })}>
              <option value="">every channel</option>
              {CHANNELS.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Expires" hint="Optional.">
          {(p) => <input {...p} type="datetime-local" value={form.expires} onChange={(e) => set({ expires: e.target.value })} />}
        </Field>
      </div>
      <Field label="Reason">{(p) => <input {...p} value={form.reason} onChange={(e) => set({ reason: e.target.value })} />}</Field>
      <div className="form-actions">
        <Button type="submit" kind="primary" busy={busy} disabled={!form.value.trim()}>
          Add entry
        </Button>
      </div>
    </form>
  );
}

function ImportEntries({ imported }: { imported: () => void }) {
  const [text, setText] = useState("list,kind,value,channel,reason\n");
  const [report, setReport] = useState<Schemas["ListImportReport"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const readFile = async (file: File | undefined) => {
    if (file) setText(await file.text());
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      setReport(
        await call(
          api.POST("/v1/list-entry-imports", { body: text, bodySerializer: (body: string) => body, headers: { "content-type": "text/csv" } }),
        ),
      );
      imported();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="import-title">
      <h3 id="import-title">Import from CSV</h3>
      <Field label="CSV file" hint="Header list,kind,value and optionally channel,reason,expires_at.">
        {(p) => <input {...p} type="file" accept=".csv,text/csv" onChange={(e) => void readFile(e.target.files?.[0])} />}
      </Field>
      <Field label="CSV rows">{(p) => <textarea {...p} className="code" rows={5} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />}</Field>
      <ErrorNotice error={error} />
      {report && (
        <Notice kind={report.failed > 0 ? "warning" : "success"}>
          Imported {count(report.imported)} of {count(report.received)} rows.
          {report.errors.length > 0 && (
            <ul>
              {report.errors.map((e) => (
                <li key={`${e.line}-${e.field ?? ""}`}>
                  Line {e.line}
                  {e.field ? ` (${e.field})` : ""}: {e.message}
                </li>
              ))}
            </ul>
          )}
        </Notice>
      )}
      <div className="form-actions">
        <Button type="submit" busy={busy}>
          Import
        </Button>
      </div>
    </form>
  );
}
