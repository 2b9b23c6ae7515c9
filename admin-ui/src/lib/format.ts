// Dates, numbers and labels as operators read them.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const number = new Intl.NumberFormat();

/// A delivery's recipient: the log keeps a deleted subscriber's deliveries without a name.
export function recipient(externalId: string): string {
  return externalId === "" ? "(deleted subscriber)" : externalId;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

export const count = (n: number | null | undefined): string => (n == null ? "—" : number.format(n));

export function percent(part: number, whole: number): string {
  if (whole === 0) return "—";
  if (part === 0) return "0%";
  return `${((part / whole) * 100).toFixed(part === whole ? 0 : 1)}%`;
}

export const label = (code: string): string => {
  const text = code.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/// `datetime-local` input value (local wall clock) to an RFC 3339 instant.
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
