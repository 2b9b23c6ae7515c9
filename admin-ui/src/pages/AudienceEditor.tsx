// A new audience: everyone, a pasted list of ids, an uploaded file of ids, or a
// segment built from conditions with a live count of who it selects now.
import { useMemo, useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, describe, fieldError } from "../api/errors";
import { count } from "../lib/format";
import { Link, navigate } from "../lib/router";
import { useApi, useDebounced } from "../lib/useApi";
import { Button, ErrorNotice, Field, PageHeader } from "../ui/kit";
import { ATTRIBUTE_OPS, segmentOf, type AttributeOp, type Condition } from "../ui/segment";
import { useToast } from "../ui/toasts";

type Kind = Schemas["AudienceKind"];

const KINDS: { kind: Kind; label: string; hint: string }[] = [
  { kind: "segment", label: "Segment", hint: "Subscribers matching conditions on tags, attributes or time zone, evaluated when sending." },
  { kind: "list", label: "List", hint: "Paste up to 10,000 external ids." },
  { kind: "file", label: "File", hint: "Upload a file of external ids: one per line, or CSV with the id first." },
  { kind: "all", label: "Everyone", hint: "Every subscriber." },
];

export function AudienceEditor() {
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Kind>("segment");
  const [ids, setIds] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [join, setJoin] = useState<"all" | "any">("all");
  const [conditions, setConditions] = useState<Condition[]>([{ kind: "tags", match: "any", tags: "" }]);
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  const segment = useMemo(() => segmentOf(join, conditions), [join, conditions]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Schemas["AudienceIn"] = { name: name.trim(), kind };
      if (kind === "list") body.external_ids = ids.split(/[\s,]+/).filter(Boolean);
      if (kind === "segment") {
        if (!segment) throw new Error("Add at least one complete condition to the segment.");
        body.segment = segment;
      }
      if (kind === "file" && !file) throw new Error("Choose a file of external ids.");
      const created = await call(api.POST("/v1/audiences", { body }));
      if (kind === "file" && file) {
        await call(
          api.POST("/v1/audiences/{id}/members", {
            params: { path: { id: created.id } },
            body: await file.text(),
            bodySerializer: (text: string) => text,
            headers: { "content-type": file.name.endsWith(".csv") ? "text/csv" : "text/plain" },
          }),
        );
      }
      toast.success("Audience created.");
      navigate(`/audiences/${created.id}`, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  const update = (index: number, next: Condition) => setConditions((cs) => cs.map((c, i) => (i === index ? next : c)));

  return (
    <>
      <PageHeader title="New audience">
        <Link to="/audiences" className="btn btn-ghost">
          All audiences
        </Link>
      </PageHeader>
      <form className="card narrow-form" onSubmit={submit} noValidate aria-label="New audience">
        {error && !fieldError(error, "name") ? <ErrorNotice error={error} /> : null}
        <fieldset disabled={busy}>
          <Field label="Name" error={fieldError(error, "name")}>
            {(p) => <input {...p} required value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <fieldset className="choices">
            <legend>Who</legend>
            {KINDS.map((k) => (
              <label key={k.kind} className="choice">
                <input type="radio" name="kind" value={k.kind} checked={kind === k.kind} onChange={() => setKind(k.kind)} />
                <span>
                  <strong>{k.label}</strong>
                  <span className="hint">{k.hint}</span>
                </span>
              </label>
            ))}
          </fieldset>
          {kind === "list" && (
            <Field label="External ids" error={fieldError(error, "external_ids")} hint="One per line, or separated by commas.">
              {(p) => <textarea {...p} rows={8} className="code" value={ids} onChange={(e) => setIds(e.target.value)} />}
            </Field>
          )}
          {kind === "file" && (
            <Field label="File of external ids">
              {(p) => <input {...p} type="file" accept=".txt,.csv,text/plain,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />}
            </Field>
          )}
          {kind === "segment" && (
            <div className="segment-builder">
              <div className="row row-tight">
                <Field label="Match">
                  {(p) => (
                    <select {...p} value={join} onChange={(e) => setJoin(e.target.value as "all" | "any")}>
                      <option value="all">all of these conditions</option>
                      <option value="any">any of these conditions</option>
                    </select>
                  )}
                </Field>
              </div>
              <ol className="conditions">
                {conditions.map((c, i) => (
                  <li key={i} className="condition">
                    <ConditionRow index={i} condition={c} onChange={(next) => update(i, next)} />
                    <Button kind="ghost" aria-label={`Remove condition ${i + 1}`} onClick={() => setConditions((cs) => cs.filter((_, j) => j !== i))} disabled={conditions.length === 1}>
                      Remove
                    </Button>
                  </li>
                ))}
              </ol>
              <Button onClick={() => setConditions((cs) => [...cs, { kind: "tags", match: "any", tags: "" }])}>Add condition</Button>
              {fieldError(error, "segment") && <p className="field-error">{fieldError(error, "segment")}</p>}
              <LiveCount segment={segment} />
            </div>
          )}
        </fieldset>
        <div className="form-actions">
          <Button kind="primary" type="submit" busy={busy}>
            Create audience
          </Button>
        </div>
      </form>
    </>
  );
}

function ConditionRow({ index, condition, onChange }: { index: number; condition: Condition; onChange: (c: Condition) => void }) {
  const n = index + 1;
  const switchKind = (kind: Condition["kind"]) =>
    onChange(
      kind === "tags" ? { kind, match: "any", tags: "" } : kind === "attribute" ? { kind, key: "", op: "eq", value: "" } : { kind, zones: "" },
    );
  return (
    <div className="condition-fields">
      <Field label={`Condition ${n}`}>
        {(p) => (
          <select {...p} value={condition.kind} onChange={(e) => switchKind(e.target.value as Condition["kind"])}>
            <option value="tags">Tags</option>
            <option value="attribute">Attribute</option>
            <option value="timezone">Time zone</option>
          </select>
        )}
      </Field>
      {condition.kind === "tags" && (
        <>
          <Field label="Has">
            {(p) => (
              <select {...p} value={condition.match} onChange={(e) => onChange({ ...condition, match: e.target.value as "any" | "all" | "none" })}>
                <option value="any">any of</option>
                <option value="all">all of</option>
                <option value="none">none of</option>
              </select>
            )}
          </Field>
          <Field label="Tags">
            {(p) => <input {...p} placeholder="vip, beta" value={condition.tags} onChange={(e) => onChange({ ...condition, tags: e.target.value })} />}
          </Field>
        </>
      )}
      {condition.kind === "attribute" && (
        <>
          <Field label="Key">
            {(p) => <input {...p} placeholder="plan" value={condition.key} onChange={(e) => onChange({ ...condition, key: e.target.value })} />}
          </Field>
          <Field label="Operator">
            {(p) => (
              <select {...p} value={condition.op} onChange={(e) => onChange({ ...condition, op: e.target.value as AttributeOp })}>
                {ATTRIBUTE_OPS.map((o) => (
                  <option key={o.op} value={o.op}>
                    {o.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {condition.op !== "exists" && (
            <Field label="Value">
              {(p) => <input {...p} value={condition.value} onChange={(e) => onChange({ ...condition, value: e.target.value })} />}
            </Field>
          )}
        </>
      )}
      {condition.kind === "timezone" && (
        <Field label="Time zones" hint="IANA names, separated by commas.">
          {(p) => <input {...p} placeholder="Europe/Berlin, Europe/Paris" value={condition.zones} onChange={(e) => onChange({ ...condition, zones: e.target.value })} />}
        </Field>
      )}
    </div>
  );
}

/// How many subscribers the segment selects now, with a few of them.
function LiveCount({ segment }: { segment: Schemas["Segment"] | null }) {
  const settled = useDebounced(segment, 400);
  const key = JSON.stringify(settled);
  const preview = useApi(
    () => (settled ? call(api.POST("/v1/segments/preview", { body: { segment: settled, sample: 5 } })) : Promise.resolve(null)),
    [key],
  );
  return (
    <div className="live-count" aria-live="polite" aria-busy={preview.loading}>
      {!settled ? (
        <p className="muted">Complete a condition to see how many subscribers match.</p>
      ) : preview.error ? (
        <p className="field-error">{describe(preview.error)}</p>
      ) : preview.data ? (
        <>
          <p>
            <strong className="live-number">{count(preview.data.count)}</strong> subscribers match now
            {preview.loading ? " (updating…)" : ""}
          </p>
          {preview.data.sample.length > 0 && (
            <p className="muted">
              e.g. {preview.data.sample.map((s) => s.external_id).join(", ")}
              {preview.data.count > preview.data.sample.length ? ", …" : ""}
            </p>
          )}
        </>
      ) : (
        <p className="muted">Counting…</p>
      )}
    </div>
  );
}
