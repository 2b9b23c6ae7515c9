// A subscriber's profile as a form: new (with their external id) or edited (every
// field sent again, as PUT replaces the profile; endpoints and preferences stay).
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../../api/client";
import { ApiFailure, call, fieldError } from "../../api/errors";
import { Button, ErrorNotice, Field } from "../../ui/kit";
import { useToast } from "../../ui/toasts";

type Subscriber = Schemas["SubscriberOut"];

export function ProfileForm({
  existing,
  saved,
  cancel,
}: {
  existing?: Subscriber;
  saved: (subscriber: Subscriber) => void;
  cancel: () => void;
}) {
  const toast = useToast();
  const [externalId, setExternalId] = useState(existing?.external_id ?? "");
  const [email, setEmail] = useState(existing?.email ?? "");
  const [phone, setPhone] = useState(existing?.phone ?? "");
  const [timezone, setTimezone] = useState(existing?.timezone ?? "");
  const [locale, setLocale] = useState(existing?.locale ?? "");
  const [tags, setTags] = useState(existing?.tags.join(", ") ?? "");
  const [attributes, setAttributes] = useState(
    existing && Object.keys(existing.attributes ?? {}).length ? JSON.stringify(existing.attributes, null, 2) : "",
  );
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    let parsed: Record<string, unknown> = {};
    if (attributes.trim()) {
      try {
        parsed = JSON.parse(attributes);
      } catch {
        setError(new ApiFailure(422, "validation_failed", "is not a JSON object", "attributes"));
        return;
      }
    }
    const id = externalId.trim();
    if (!id) {
      setError(new ApiFailure(422, "validation_failed", "give the product's id for this user", "external_id"));
      return;
    }
    const orNull = (text: string) => (text.trim() ? text.trim() : null);
    setBusy(true);
    try {
      const stored = await call(
        api.PUT("/v1/subscribers/{external_id}", {
          params: { path: { external_id: id } },
          body: {
            email: orNull(email),
            phone: orNull(phone),
            timezone: orNull(timezone),
            locale: orNull(locale),
            tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
            attributes: parsed,
          },
        }),
      );
      toast.success(existing ? `Subscriber ${id} saved.` : `Subscriber ${id} created.`);
      saved(stored);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const fields = ["external_id", "email", "phone", "timezone", "locale", "tags", "attributes"];
  const err = (field: string) => fieldError(error, field);
  return (
    <form className="card" onSubmit={submit} aria-label={existing ? "Edit the profile" : "New subscriber"} noValidate>
      <h2>{existing ? "Edit the profile" : "New subscriber"}</h2>
      {error && !fields.some((f) => err(f)) ? <ErrorNotice error={error} /> : null}
      {!existing && (
        <Field label="External id" error={err("external_id")} hint="The product's id for this user; it cannot change later.">
          {(p) => <input {...p} required value={externalId} onChange={(e) => setExternalId(e.target.value)} />}
        </Field>
      )}
      <div className="row">
        <Field label="Email" error={err("email")}>
          {(p) => <input {...p} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
        </Field>
        <Field label="Phone" error={err("phone")} hint="E.164, e.g. +4915112345678.">
          {(p) => <input {...p} type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} />}
        </Field>
      </div>
      <div className="row">
        <Field label="Time zone" error={err("timezone")} hint="For quiet hours and local-time sends, e.g. Europe/Berlin.">
          {(p) => <input {...p} value={timezone} onChange={(e) => setTimezone(e.target.value)} />}
        </Field>
        <Field label="Locale" error={err("locale")} hint="e.g. de-DE.">
          {(p) => <input {...p} value={locale} onChange={(e) => setLocale(e.target.value)} />}
        </Field>
      </div>
      <Field label="Tags" error={err("tags")} hint="Separated by commas.">
        {(p) => <input {...p} value={tags} onChange={(e) => setTags(e.target.value)} />}
      </Field>
      <Field label="Attributes (JSON object)" error={err("attributes")} hint='For targeting and templates, e.g. {"plan": "pro"}.'>
        {(p) => <textarea {...p} className="code" rows={3} value={attributes} onChange={(e) => setAttributes(e.target.value)} />}
      </Field>
      <div className="form-actions">
        <Button onClick={cancel} disabled={busy}>
          Cancel
        </Button>
        <Button kind="primary" type="submit" busy={busy}>
          {existing ? "Save profile" : "Create subscriber"}
        </Button>
      </div>
    </form>
  );
}
