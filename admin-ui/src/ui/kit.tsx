// The console's building blocks: labelled fields, buttons, notices, tables' empty and
// loading states, status badges, progress bars.
import { useId, type ButtonHTMLAttributes, type ReactNode } from "react";
import { describe } from "../api/errors";

export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: ReactNode;
  error?: string | undefined;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby": string | undefined }) => ReactNode;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": Boolean(error), "aria-describedby": described })}
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & {
  kind?: "primary" | "secondary" | "danger" | "ghost";
  busy?: boolean;
};

export function Button({ kind = "secondary", busy = false, children, disabled, type = "button", ...rest }: ButtonProps) {
  return (
    <button type={type} className={`btn btn-${kind}`} disabled={disabled || busy} aria-busy={busy} {...rest}>
      {busy && <span className="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <div className="notice notice-error" role="alert">
      {title && <strong>{title} </strong>}
      {describe(error)}
    </div>
  );
}

export function Notice({ kind = "info", children }: { kind?: "info" | "success" | "warning"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "success" ? "status" : undefined}>
      {children}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/// Loading, failed or loaded: the three states of every screen's data.
export function Loaded<T>({
  state,
  what,
  children,
}: {
  state: { data: T | undefined; error: unknown; loading: boolean };
  what?: string;
  children: (data: T) => ReactNode;
}) {
  if (state.data === undefined) {
    if (state.error) return <ErrorNotice error={state.error} title={what ? `Could not load ${what}.` : undefined} />;
    return <Loading />;
  }
  return (
    <>
      {state.error ? <ErrorNotice error={state.error} title="Could not refresh." /> : null}
      {children(state.data)}
    </>
  );
}

const STATUS_TONE: Record<string, string> = {
  draft: "neutral",
  in_review: "warning",
  approved: "info",
  rejected: "danger",
  scheduled: "info",
  running: "active",
  paused: "warning",
  completed: "success",
  cancelled: "neutral",
  delivered: "success",
  sent: "success",
  queued: "neutral",
  sending: "active",
  deferred: "warning",
  filtered: "neutral",
  failed: "danger",
  dead: "danger",
  expired: "neutral",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${STATUS_TONE[status] ?? "neutral"}`}>{status.replace(/_/g, " ")}</span>;
}

export function ProgressBar({ parts, total, label }: { parts: { value: number; tone: string; name: string }[]; total: number; label: string }) {
  const done = parts.reduce((sum, part) => sum + part.value, 0);
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={Math.max(total, 1)}
      aria-valuenow={done}
    >
      {total > 0 &&
        parts
          .filter((part) => part.value > 0)
          .map((part) => (
            <span
              key={part.name}
              className={`progress-part tone-${part.tone}`}
              style={{ width: `${(part.value / total) * 100}%` }}
              title={`${part.name}: ${part.value}`}
            />
          ))}
    </div>
  );
}

export function PageHeader({ title, children, subtitle }: { title: ReactNode; subtitle?: ReactNode; children?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="subtitle">{subtitle}</p>}
      </div>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}
