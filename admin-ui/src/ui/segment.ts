// The segment builder's rows and their translation to the API's Segment tree: one
// level of conditions joined by "all" or "any", which covers what operators build by
// hand (nested trees stay possible through the API).
import type { Schemas } from "../api/client";

export type Segment = Schemas["Segment"];
export type AttributeOp = Schemas["AttributeOp"];

export type Condition =
  | { kind: "tags"; match: "any" | "all" | "none"; tags: string }
  | { kind: "attribute"; key: string; op: AttributeOp; value: string }
  | { kind: "timezone"; zones: string };

export const ATTRIBUTE_OPS: { op: AttributeOp; label: string }[] = [
  { op: "eq", label: "equals" },
  { op: "neq", label: "does not equal" },
  { op: "contains", label: "contains" },
  { op: "gt", label: "is greater than" },
  { op: "lt", label: "is less than" },
  { op: "in", label: "is one of (comma separated)" },
  { op: "exists", label: "is set" },
];

const list = (text: string) =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

/// A typed value from what the operator typed: numbers and booleans stay typed.
function valueOf(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (trimmed !== "" && !Number.isNaN(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

function conditionToSegment(c: Condition): Segment | null {
  switch (c.kind) {
    case "tags": {
      const tags = list(c.tags);
      if (tags.length === 0) return null;
      if (c.match === "any") return { tags: { any: tags } };
      if (c.match === "all") return { tags: { all: tags } };
      return { tags: { none: tags } };
    }
    case "attribute": {
      if (!c.key.trim()) return null;
      const base = { key: c.key.trim(), op: c.op };
      if (c.op === "exists") return { attribute: base };
      const value = c.op === "in" ? list(c.value).map(valueOf) : valueOf(c.value);
      return { attribute: { ...base, value: value as Record<string, never> } };
    }
    case "timezone": {
      const zones = list(c.zones);
      return zones.length === 0 ? null : { timezone: { in: zones } };
    }
  }
}

/// The segment for the rows, or null while no row is complete.
export function segmentOf(join: "all" | "any", conditions: Condition[]): Segment | null {
  const parts = conditions.map(conditionToSegment).filter((s): s is Segment => s !== null);
  if (parts.length === 0) return null;
  return join === "all" ? { all: parts } : { any: parts };
}

/// A short human reading of a stored segment.
export function describeSegment(segment: Segment | null | undefined): string {
  if (!segment) return "—";
  const s = segment as Record<string, unknown>;
  if (Array.isArray(s.all)) return (s.all as Segment[]).map(describeSegment).join(" and ");
  if (Array.isArray(s.any)) return (s.any as Segment[]).map(describeSegment).join(" or ");
  if (s.not) return `not (${describeSegment(s.not as Segment)})`;
  if (s.tags) {
    const t = s.tags as Record<string, string[]>;
    const [mode, tags] = Object.entries(t)[0] ?? ["any", []];
    return `tags ${mode === "none" ? "include none of" : mode === "all" ? "include all of" : "include any of"} ${tags.join(", ")}`;
  }
  if (s.attribute) {
    const a = s.attribute as { key: string; op: string; value?: unknown };
    const op = ATTRIBUTE_OPS.find((o) => o.op === a.op)?.label ?? a.op;
    return `attribute ${a.key} ${op}${a.op === "exists" ? "" : ` ${JSON.stringify(a.value)}`}`;
  }
  if (s.timezone) return `time zone in ${(s.timezone as { in: string[] }).in.join(", ")}`;
  return JSON.stringify(segment);
}
