// The rule editor's form state for every kind, and its conversion to the API's body.
import type { Schemas } from "../../api/client";

export type RuleKind = Schemas["RuleParams"]["kind"];
export const RULE_KINDS: { kind: RuleKind; label: string; hint: string }[] = [
  { kind: "frequency_cap", label: "Frequency cap", hint: "At most N deliveries per subscriber per channel (or category) per window." },
  { kind: "quiet_hours", label: "Quiet hours", hint: "Deliver only inside allowed hours of each subscriber's time zone; defer or drop otherwise." },
  { kind: "keyword", label: "Keyword filter", hint: "Block content containing banned words, at save, submit and transactional send." },
  { kind: "dedup", label: "Dedup", hint: "The same template (or dedup key) to the same subscriber and channel once per window." },
  {
    kind: "fatigue_budget",
    label: "Fatigue budget",
    hint: "At most N sends per subscriber per hour, day or week across every channel and category, with priority classes: a lower class never holds back a higher one, and a higher send puts off queued lower ones that would go over; over budget, a send waits for the next window.",
  },
];

export type RuleForm = {
  name: string;
  kind: RuleKind;
  scope: Schemas["RuleScope"];
  scopeValue: string;
  exempt: string;
  enabled: boolean;
  max: string;
  per: Schemas["CapPer"];
  window: Schemas["CapWindow"];
  rollingSecs: string;
  from: string;
  until: string;
  timezone: string;
  action: Schemas["QuietAction"];
  words: string;
  wholeWord: boolean;
  windowSecs: string;
  by: Schemas["DedupBy"];
  /// `push: 2, email: 1`
  channelBudgets: string;
  /// One class per line, highest first: `transactional: security, billing`
  classes: string;
};

export const blankRule: RuleForm = {
  name: "", kind: "frequency_cap", scope: "global", scopeValue: "", exempt: "", enabled: true,
  max: "3", per: "channel", window: "day", rollingSecs: "3600",
  from: "08:00", until: "21:00", timezone: "UTC", action: "defer",
  words: "", wholeWord: true, windowSecs: "86400", by: "template",
  channelBudgets: "", classes: "",
};

const list = (text: string) => text.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
const str = (v: unknown, fallback: string) => (v === undefined || v === null ? fallback : String(v));

export function formOfRule(rule: Schemas["RuleOut"]): RuleForm {
  const p = rule.params as Record<string, unknown>;
  return {
    ...blankRule,
    name: rule.name,
    kind: rule.kind as RuleKind,
    scope: rule.scope as Schemas["RuleScope"],
    scopeValue: rule.scope_value ?? "",
    exempt: rule.exempt_categories.join(", "),
    enabled: rule.enabled,
    max: str(p.max, blankRule.max),
    per: (p.per as Schemas["CapPer"]) ?? blankRule.per,
    window: (p.window as Schemas["CapWindow"]) ?? blankRule.window,
    rollingSecs: str(p.rolling_secs, blankRule.rollingSecs),
    from: str(p.allowed_from, blankRule.from),
    until: str(p.allowed_until, blankRule.until),
    timezone: str(p.default_timezone, blankRule.timezone),
    action: (p.action as Schemas["QuietAction"]) ?? blankRule.action,
    words: Array.isArray(p.words) ? p.words.join("\n") : "",
    wholeWord: p.whole_word !== false,
    windowSecs: str(p.window_secs, blankRule.windowSecs),
    by: (p.by as Schemas["DedupBy"]) ?? blankRule.by,
    channelBudgets: ((p.per_channel as Schemas["ChannelBudget"][] | undefined) ?? []).map((b) => `${b.channel}: ${b.max}`).join(", "),
    classes: ((p.classes as Schemas["PriorityClass"][] | undefined) ?? []).map((c) => `${c.name}: ${c.categories.join(", ")}`).join("\n"),
  };
}

/// `name: a, b` → [name, [a, b]]; a line without a colon is a name alone.
function named(line: string): [string, string] {
  const at = line.indexOf(":");
  return at < 0 ? [line.trim(), ""] : [line.slice(0, at).trim(), line.slice(at + 1)];
}

function paramsOf(f: RuleForm): Schemas["RuleParams"] {
  switch (f.kind) {
    case "frequency_cap":
      return {
        kind: f.kind,
        params: { max: Number(f.max), per: f.per, window: f.window, rolling_secs: f.window === "rolling" ? Number(f.rollingSecs) : null },
      };
    case "quiet_hours":
      return { kind: f.kind, params: { allowed_from: f.from, allowed_until: f.until, default_timezone: f.timezone.trim(), action: f.action } };
    case "keyword":
      return { kind: f.kind, params: { words: list(f.words), whole_word: f.wholeWord } };
    case "dedup":
      return { kind: f.kind, params: { window_secs: Number(f.windowSecs), by: f.by } };
    case "fatigue_budget":
      return {
        kind: f.kind,
        params: {
          max: Number(f.max),
          window: f.window,
          per_channel: list(f.channelBudgets).map((entry) => {
            const [channel, max] = named(entry);
            return { channel: channel as Schemas["ChannelKind"], max: Number(max) };
          }),
          classes: f.classes
            .split("\n")
            .filter((line) => line.trim())
            .map((line) => {
              const [name, categories] = named(line);
              return { name, categories: list(categories) };
            }),
        },
      };
  }
}

export function ruleIn(f: RuleForm): Schemas["RuleIn"] {
  return {
    ...paramsOf(f),
    name: f.name.trim(),
    scope: f.scope,
    scope_value: f.scope === "global" ? null : f.scopeValue.trim(),
    exempt_categories: list(f.exempt),
    enabled: f.enabled,
  };
}
