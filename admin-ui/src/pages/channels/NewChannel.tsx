// Adding a channel instance: every kind has its own labelled fields (secrets write-only);
// no settings are typed as JSON.
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { call, fieldError } from "../../api/errors";
import { Button, ErrorNotice, Field } from "../../ui/kit";
import { KindSettings, isFormKind, settingsFrom, valuesFrom, type ChannelSettings, type Values } from "./KindSettings";
import { useToast } from "../../ui/toasts";

const KINDS = ["webhook", "smtp", "mqtt", "fcm", "apns", "jpush"] as const;
type Kind = (typeof KINDS)[number];

/// How each kind is called on screen.
const KIND_NAMES: Record<Kind, string> = { webhook: "Webhook", smtp: "SMTP", mqtt: "MQTT", fcm: "FCM", apns: "APNs", jpush: "JPush" };

/// A fresh Standard Webhooks secret: `whsec_` and 24 random bytes in base64.
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

const lines = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

export function NewChannel({ created }: { created: () => void }) {
  const [kind, setKind] = useState<Kind>("webhook");
  const [name, setName] = useState("");
  const [secret, setSecret] = useState("");
  const [allow, setAllow] = useState("");
  const [values, setValues] = useState<Values>({});
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  const choose = (next: Kind) => {
    setKind(next);
    if (isFormKind(next)) setValues(valuesFrom(next));
  };

  const settings = (): ChannelSettings => {
    if (kind === "webhook") return { kind, secret: secret.trim(), allow_list: lines(allow) };
    const made = settingsFrom(kind, values);
    if ("problem" in made) throw new Error(made.problem);
    return made.settings;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(api.POST("/v1/channels", { body: { name: name.trim(), settings: settings(), enabled: true } }));
      setName("");
      setSecret("");
      setAllow("");
      if (isFormKind(kind)) setValues(valuesFrom(kind));
      toast.success("Channel instance created.");
      created();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const err = (field: string) => fieldError(error, field);
  const settingsError = err("settings") ?? err("settings.secret") ?? err("settings.allow_list");
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-channel-title" noValidate>
      <h2 id="new-channel-title">New channel instance</h2>
      {error && !err("name") && !settingsError ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="Kind">
          {(p) => (
            <select {...p} value={kind} onChange={(e) => choose(e.target.value as Kind)}>
              {KINDS.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Name" error={err("name")} hint="Lower-case letters, digits and dashes, e.g. partner-webhook.">
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
      </div>
      {kind === "webhook" ? (
        <>
          <Field label="Signing secret" error={settingsError} hint="whsec_ and base64; receivers check the webhook-signature header with it. Stored and never shown again.">
            {(p) => (
              <div className="input-with-button">
                <input {...p} value={secret} onChange={(e) => setSecret(e.target.value)} autoComplete="off" spellCheck={false} />
                <Button onClick={() => setSecret(newSecret())}>Generate</Button>
              </div>
            )}
          </Field>
          <Field label="Private addresses allowed" hint="Networks (127.0.0.1/32) or host:port pairs this channel may reach although they are private; one per line. Leave empty for public URLs only. Each must be within what the server allows (channels.allowed_private_destinations).">
            {(p) => <textarea {...p} rows={2} className="code" value={allow} onChange={(e) => setAllow(e.target.value)} />}
          </Field>
        </>
      ) : (
        <fieldset className="kind-settings" aria-label={`${KIND_NAMES[kind]} settings`}>
          {settingsError && <ErrorNotice error={error} />}
          <KindSettings kind={kind} values={values} onChange={setValues} />
        </fieldset>
      )}
      <div className="form-actions">
        <Button kind="primary" type="submit" busy={busy}>
          Add channel
        </Button>
      </div>
    </form>
  );
}
