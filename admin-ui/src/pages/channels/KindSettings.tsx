// Labelled fields for the settings of an SMTP relay, MQTT broker or push provider (FCM,
// APNs, JPush) channel instance, from a description of each kind's settings (the
// *Settings schemas of openapi.json): empty optional fields are left out so the server's
// defaults apply, secrets are write-only (left out of an update, the stored value stays).
import { useId, type ReactNode } from "react";
import type { Schemas } from "../../api/client";
import { Field } from "../../ui/kit";

/// A channel instance's settings as the API types them: one schema per kind, by `kind`.
export type ChannelSettings = Schemas["ChannelConfig"];

export type FormKind = "smtp" | "mqtt" | "fcm" | "apns" | "jpush";
export const FORM_KINDS: readonly string[] = ["smtp", "mqtt", "fcm", "apns", "jpush"];

export function isFormKind(kind: string): kind is FormKind {
  return FORM_KINDS.includes(kind);
}

type Spec = {
  key: string; // a dotted path for nested settings: "pool.max_size"
  label: string;
  type: "text" | "number" | "password" | "select" | "checkbox" | "textarea";
  hint?: string;
  placeholder?: string | ((values: Values) => string);
  options?: { value: string; label: string }[];
  required?: boolean;
  /// Write-only: never shown back; on an update, left empty keeps the stored value.
  secret?: boolean;
  advanced?: boolean;
  min?: number;
  max?: number;
};

export type Values = Record<string, string | boolean>;

const SMTP_PORTS: Record<string, string> = { plain: "25", starttls: "587", tls: "465" };

const SPECS: Record<FormKind, Spec[]> = {
  smtp: [
    { key: "host", label: "Host", type: "text", required: true, placeholder: "smtp.example.com" },
    {
      key: "security",
      label: "Security",
      type: "select",
      options: [
        { value: "starttls", label: "STARTTLS (port 587)" },
        { value: "tls", label: "TLS from the start (port 465)" },
        { value: "plain", label: "None (local relay, test server)" },
      ],
    },
    { key: "port", label: "Port", type: "number", min: 1, max: 65535, hint: "Empty: the usual port for the security chosen.", placeholder: (v) => SMTP_PORTS[String(v.security)] ?? "587" },
    { key: "username", label: "Username", type: "text", hint: "Empty when the relay needs no login." },
    { key: "password", label: "Password", type: "password", secret: true },
    { key: "hello_name", label: "EHLO name", type: "text", advanced: true, hint: "Empty: this machine's host name." },
    { key: "message_id_domain", label: "Message-ID domain", type: "text", advanced: true, hint: "Empty: the sender's domain." },
    { key: "timeout_secs", label: "Command timeout (seconds)", type: "number", min: 1, advanced: true, placeholder: "30" },
    { key: "pool.max_size", label: "Connections at most", type: "number", min: 1, advanced: true, placeholder: "8", hint: "Also how many messages go out at once." },
    { key: "pool.idle_timeout_secs", label: "Idle connection closed after (seconds)", type: "number", min: 1, advanced: true, placeholder: "60" },
    { key: "extra_root_certificate_pem", label: "Extra root certificate (PEM)", type: "textarea", advanced: true, hint: "For a relay behind a private certificate authority." },
  ],
  mqtt: [
    { key: "host", label: "Host", type: "text", required: true, placeholder: "broker.example.com" },
    { key: "port", label: "Port", type: "number", min: 1, max: 65535, placeholder: "1883", hint: "Usually 1883, or 8883 with TLS." },
    { key: "tls", label: "TLS (system root certificates)", type: "checkbox" },
    { key: "username", label: "Username", type: "text", hint: "Empty when the broker needs no login." },
    { key: "password", label: "Password", type: "password", secret: true },
    { key: "client_id", label: "Client id", type: "text", hint: "Empty: herald-<pid>-<random>. Two publishers with one id keep disconnecting each other." },
    { key: "retain", label: "Retain published messages", type: "checkbox" },
    { key: "keep_alive_secs", label: "Keep-alive (seconds)", type: "number", min: 1, advanced: true, placeholder: "30" },
    { key: "max_in_flight", label: "Publishes awaiting an acknowledgement at most", type: "number", min: 1, max: 65535, advanced: true, placeholder: "100" },
    { key: "ack_timeout_ms", label: "Acknowledgement timeout (ms)", type: "number", min: 1, advanced: true, placeholder: "10000", hint: "A send without its PUBACK by then is retried." },
  ],
  fcm: [
    {
      key: "service_account_json",
      label: "Service account key (JSON)",
      type: "textarea",
      secret: true,
      required: true,
      hint: "The key file downloaded from the Firebase console (Project settings → Service accounts).",
    },
    { key: "project_id", label: "Project id", type: "text", advanced: true, hint: "Empty: the key file's project_id." },
    { key: "max_concurrency", label: "Requests at once", type: "number", min: 1, advanced: true, placeholder: "64" },
  ],
  apns: [
    { key: "team_id", label: "Team id", type: "text", required: true, placeholder: "ABCDE12345" },
    { key: "key_id", label: "Key id", type: "text", required: true, placeholder: "10 characters" },
    {
      key: "signing_key_pem",
      label: "Signing key (.p8)",
      type: "textarea",
      secret: true,
      required: true,
      hint: "The .p8 file's contents, BEGIN PRIVATE KEY and all.",
    },
    { key: "topic", label: "Bundle id (topic)", type: "text", required: true, placeholder: "com.example.app" },
    {
      key: "push_type",
      label: "Push type",
      type: "select",
      options: [
        { value: "alert", label: "Alert (shown to the user)" },
        { value: "background", label: "Background (silent)" },
      ],
    },
    {
      key: "base_url",
      label: "Environment",
      type: "select",
      options: [
        { value: "https://api.push.apple.com", label: "Production" },
        { value: "https://api.sandbox.push.apple.com", label: "Sandbox (development builds)" },
      ],
    },
    { key: "max_concurrency", label: "Requests at once", type: "number", min: 1, advanced: true, placeholder: "64" },
  ],
  jpush: [
    { key: "app_key", label: "App key", type: "text", required: true },
    { key: "master_secret", label: "Master secret", type: "password", secret: true, required: true },
    { key: "apns_production", label: "iOS notifications through production APNs", type: "checkbox" },
    { key: "max_concurrency", label: "Requests at once", type: "number", min: 1, advanced: true, placeholder: "64" },
  ],
};

function pick(settings: Record<string, unknown>, path: string): unknown {
  return path.split(".").reduce<unknown>((at, part) => (at && typeof at === "object" ? (at as Record<string, unknown>)[part] : undefined), settings);
}

/// Form values from an instance's shown settings (secrets are never among them).
export function valuesFrom(kind: FormKind, settings: Record<string, unknown> = {}): Values {
  const values: Values = {};
  for (const spec of SPECS[kind]) {
    const v = pick(settings, spec.key);
    if (spec.type === "checkbox") values[spec.key] = v === true;
    else if (spec.type === "select") values[spec.key] = typeof v === "string" ? v : spec.options![0]!.value;
    else values[spec.key] = v == null ? "" : String(v);
  }
  return values;
}

/// The settings object to send, or the first problem with the values. `clear` names the
/// secrets to remove; a secret left empty is left out (on an update: kept).
export function settingsFrom(
  kind: FormKind,
  values: Values,
  clear: Set<string> = new Set(),
  stored: string[] = [],
): { settings: ChannelSettings } | { problem: string } {
  // A login (SMTP, MQTT) is a username and a password, or neither.
  if (SPECS[kind].some((spec) => spec.key === "username")) {
    const user = String(values.username ?? "").trim();
    const password = !clear.has("password") && (String(values.password ?? "") !== "" || stored.includes("password"));
    if (user && !password) return { problem: "A username needs a password." };
    if (!user && password) return { problem: String(values.password ?? "") !== "" ? "A password needs a username." : "A password is stored: give its username, or remove the password." };
  }
  const settings: Record<string, unknown> = { kind };
  const put = (path: string, value: unknown) => {
    const parts = path.split(".");
    let at = settings;
    for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1]!] = value;
  };
  for (const spec of SPECS[kind]) {
    const v = values[spec.key];
    if (spec.type === "checkbox") {
      put(spec.key, v === true);
      continue;
    }
    const text = typeof v === "string" ? (spec.type === "textarea" || spec.type === "password" ? v : v.trim()) : "";
    if (spec.secret && clear.has(spec.key)) {
      put(spec.key, null);
      continue;
    }
    if (!text.trim()) {
      // A stored secret left empty is kept.
      if (spec.required && !(spec.secret && stored.includes(spec.key))) return { problem: `${spec.label} is required.` };
      continue;
    }
    if (spec.type === "number") {
      const n = Number(text);
      if (!Number.isInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return { problem: `${spec.label} must be a whole number${spec.min !== undefined ? ` from ${spec.min}` : ""}${spec.max !== undefined ? ` to ${spec.max}` : ""}.` };
      }
      put(spec.key, n);
    } else {
      put(spec.key, text);
    }
  }
  // Assembled field by field from SPECS, which follow the kind's schema.
  return { settings: settings as ChannelSettings };
}

/// The fields of one kind; `secretsSet` says which secrets the stored instance holds.
export function KindSettings({
  kind,
  values,
  onChange,
  secretsSet = [],
  clear,
  onClear,
}: {
  kind: FormKind;
  values: Values;
  onChange: (values: Values) => void;
  secretsSet?: string[];
  clear?: Set<string>;
  onClear?: (clear: Set<string>) => void;
}) {
  const set = (key: string, value: string | boolean) => onChange({ ...values, [key]: value });
  const field = (spec: Spec): ReactNode => {
    const value = values[spec.key];
    const placeholder = typeof spec.placeholder === "function" ? spec.placeholder(values) : spec.placeholder;
    if (spec.type === "checkbox") return <Check key={spec.key} label={spec.label} checked={value === true} onChange={(v) => set(spec.key, v)} />;
    const stored = secretsSet.includes(spec.key);
    const clearing = clear?.has(spec.key) ?? false;
    const what = spec.label.toLowerCase();
    const hint = spec.secret
      ? stored
        ? clearing
          ? `The stored ${what} is removed on save.`
          : `The ${what} is stored (never shown). Leave empty to keep it, or enter a new one.`
        : [spec.hint, "Write-only: stored and never shown again."].filter(Boolean).join(" ")
      : spec.hint;
    return (
      <Field key={spec.key} label={spec.label} hint={hint}>
        {(p) =>
          spec.type === "select" ? (
            <select {...p} value={String(value)} onChange={(e) => set(spec.key, e.target.value)}>
              {/* A stored value the list does not offer (a test server's URL) stays selectable. */}
              {[...spec.options!, ...(spec.options!.some((o) => o.value === value) ? [] : [{ value: String(value), label: String(value) }])].map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          ) : spec.type === "textarea" ? (
            <textarea
              {...p}
              className="code"
              rows={4}
              value={String(value)}
              placeholder={spec.secret && stored ? "(stored)" : undefined}
              disabled={clearing}
              onChange={(e) => set(spec.key, e.target.value)}
              spellCheck={false}
            />
          ) : (
            <input
              {...p}
              type={spec.type === "number" ? "number" : spec.type === "password" ? "password" : "text"}
              inputMode={spec.type === "number" ? "numeric" : undefined}
              min={spec.min}
              max={spec.max}
              required={spec.required}
              value={String(value)}
              placeholder={spec.type === "password" && stored ? "•••••••• (stored)" : placeholder}
              disabled={clearing}
              autoComplete={spec.type === "password" ? "new-password" : "off"}
              spellCheck={false}
              onChange={(e) => set(spec.key, e.target.value)}
            />
          )
        }
      </Field>
    );
  };
  // Optional secrets can be removed; a required one only replaced.
  const secretClear = SPECS[kind]
    .filter((s) => s.secret && !s.required && secretsSet.includes(s.key) && onClear)
    .map((s) => (
      <Check
        key={`clear-${s.key}`}
        label={`Remove the stored ${s.label.toLowerCase()}`}
        checked={clear?.has(s.key) ?? false}
        onChange={(on) => {
          const next = new Set(clear);
          if (on) next.add(s.key);
          else next.delete(s.key);
          onClear!(next);
          if (on) set(s.key, "");
        }}
      />
    ));
  const basic = SPECS[kind].filter((s) => !s.advanced);
  const advanced = SPECS[kind].filter((s) => s.advanced);
  return (
    <>
      <div className="settings-grid">{basic.map(field)}</div>
      {secretClear}
      {advanced.length > 0 && (
        <details className="advanced-settings">
          <summary>Advanced settings</summary>
          <div className="settings-grid">{advanced.map(field)}</div>
        </details>
      )}
    </>
  );
}

function Check({ label, checked, onChange }: { label: string; checked: boolean; onChange: (checked: boolean) => void }) {
  const id = useId();
  return (
    <div className="field field-check">
      <label className="check" htmlFor={id}>
        <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {label}
      </label>
    </div>
  );
}
