// Creating or changing a rule of any kind: what it checks, where it applies (global, a
// channel, a category) and which categories it never applies to.
import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { call, fieldError } from "../api/errors";
import { Link, navigate } from "../lib/router";
import { Button, ErrorNotice, Field, Loading, PageHeader } from "../ui/kit";
import { CHANNELS } from "../ui/templateContent";
import { Backtest } from "./rules/Backtest";
import { KindFields } from "./rules/KindFields";
import { RULE_KINDS, blankRule, formOfRule, ruleIn, type RuleForm, type RuleKind } from "./rules/ruleForm";
import { useToast } from "../ui/toasts";

const SHOWN_FIELDS = ["name", "scope_value", "params.max", "max", "params.rolling_secs", "rolling_secs", "params.allowed_from", "allowed_from",
  "params.allowed_until", "allowed_until", "params.default_timezone", "default_timezone", "params.words", "words", "params.window_secs", "window_secs"];

export function RuleEditor({ params }: { params: Record<string, string> }) {
  const id = params.id ? Number(params.id) : null;
  const [form, setForm] = useState<RuleForm | null>(id === null ? blankRule : null);
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (id === null) return;
    call(api.GET("/v1/rules/{id}", { params: { path: { id } } })).then((rule) => setForm(formOfRule(rule)), setError);
  }, [id]);

  if (!form) return error ? <ErrorNotice error={error} title="Could not load the rule." /> : <Loading />;
  const set = (patch: Partial<RuleForm>) => setForm({ ...form, ...patch });
  const err = (field: string) => fieldError(error, field);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = ruleIn(form);
      if (id === null) await call(api.POST("/v1/rules", { body }));
      else await call(api.PUT("/v1/rules/{id}", { params: { path: { id } }, body }));
      toast.success(id === null ? "Rule created." : "Rule saved.");
      navigate("/rules");
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const remove = async () => {
    if (id === null || !window.confirm(`Delete the rule “${form.name}”?`)) return;
    try {
      await call(api.DELETE("/v1/rules/{id}", { params: { path: { id } } }));
      toast.success("Rule deleted.");
      navigate("/rules");
    } catch (e) {
      setError(e);
    }
  };

  const shown = SHOWN_FIELDS.some((f) => err(f));
  return (
    <>
      <PageHeader title={id === null ? "New rule" : `Rule: ${form.name}`}>
        <Link to="/rules">All rules</Link>
      </PageHeader>
      <form className="card" onSubmit={save} aria-label="Rule" noValidate>
        {error && !shown ? <ErrorNotice error={error} /> : null}
        <div className="row">
          <Field label="Name" error={err("name")}>
            {(p) => <input {...p} value={form.name} onChange={(e) => set({ name: e.target.value })} />}
          </Field>
          <Field label="Kind" hint={RULE_KINDS.find((k) => k.kind === form.kind)?.hint}>
            {(p) => (
              <select {...p} value={form.kind} disabled={id !== null} onChange={(e) => set({ kind: e.target.value as RuleKind })}>
                {RULE_KINDS.map((k) => (
                  <option key={k.kind} value={k.kind}>
                    {k.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <KindFields form={form} set={set} err={err} />
        <div className="row">
          <Field label="Applies to">
            {(p) => (
              <select {...p} value={form.scope} onChange={(e) => set({ scope: e.target.value as RuleForm["scope"], scopeValue: "" })}>
                <option value="global">every message</option>
                <option value="channel">one channel</option>
                <option value="category">one category</option>
              </select>
            )}
          </Field>
          {form.scope === "channel" && (
            <Field label="Channel" error={err("scope_value")}>
              {(p) => (
                <select {...p} value={form.scopeValue} onChange={(e) => set({ scopeValue: e.target.value })}>
                  <option value="">Choose…</option>
                  {CHANNELS.map((c) => (
                    <option key={c}>{c}</option>
                  ))}
                </select>
              )}
            </Field>
          )}
          {form.scope === "category" && (
            <Field label="Category" error={err("scope_value")}>
              {(p) => <input {...p} value={form.scopeValue} onChange={(e) => set({ scopeValue: e.target.value })} placeholder="promotions" />}
            </Field>
          )}
          <Field label="Except categories" hint="Comma-separated, e.g. security (a login code ignores quiet hours).">
            {(p) => <input {...p} value={form.exempt} onChange={(e) => set({ exempt: e.target.value })} />}
          </Field>
        </div>
        <label className="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Enabled
        </label>
        <div className="form-actions">
          {id !== null && (
            <Button kind="danger" onClick={() => void remove()}>
              Delete rule
            </Button>
          )}
          <Button kind="primary" type="submit" busy={busy}>
            {id === null ? "Create rule" : "Save rule"}
          </Button>
        </div>
      </form>
      {form.kind !== "keyword" && <Backtest draft={() => ruleIn(form)} />}
    </>
  );
}
