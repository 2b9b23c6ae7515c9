// Delivery rules (frequency caps, quiet hours, keyword filters, dedup, fatigue budgets) as the rules
// engine applies them, and the block and allow lists; admins create, edit, switch on
// and off.
import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { call } from "../api/errors";
import { useSession } from "../lib/auth";
import { label } from "../lib/format";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { ListEntries } from "./rules/ListEntries";
import { Button, Empty, ErrorNotice, Loaded, PageHeader } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";
import { useToast } from "../ui/toasts";

type Rule = Schemas["RuleOut"];

function summary(rule: Rule): string {
  const p = rule.params as Record<string, unknown>;
  switch (rule.kind) {
    case "frequency_cap":
      return `at most ${p.max} per ${p.per} per ${p.window === "rolling" ? `${p.rolling_secs}s` : p.window}`;
    case "quiet_hours":
      return `only ${p.allowed_from}–${p.allowed_until} local time, otherwise ${p.action} (default zone ${p.default_timezone})`;
    case "keyword":
      return `blocks ${(p.words as string[] | undefined)?.map((w) => `“${w}”`).join(", ") ?? ""}`;
    case "dedup":
      return `once per ${p.window_secs}s by ${p.by}`;
    case "fatigue_budget": {
      const channels = (p.per_channel as { channel: string; max: number }[] | undefined) ?? [];
      const classes = (p.classes as { name: string }[] | undefined) ?? [];
      const perChannel = channels.map((b) => `, ${b.max} on ${b.channel}`).join("");
      const order = classes.length ? `; classes ${[...classes.map((c) => c.name), "other"].join(" > ")}` : "";
      return `at most ${p.max} sends per ${p.window} across channels${perChannel}${order}`;
    }
    default:
      return JSON.stringify(p);
  }
}

export function Rules() {
  const { can } = useSession();
  const listing = useListing("oldest");
  const rules = useApi(() => call(api.GET("/v1/rules", { params: { query: listing.query } })), listing.deps);
  const [error, setError] = useState<unknown>(null);
  const toast = useToast();

  const toggle = async (rule: Rule) => {
    setError(null);
    try {
      const body = {
        name: rule.name, scope: rule.scope, scope_value: rule.scope_value ?? null, enabled: !rule.enabled,
        exempt_categories: rule.exempt_categories, kind: rule.kind, params: rule.params,
      } as unknown as Schemas["RuleIn"];
      await call(api.PUT("/v1/rules/{id}", { params: { path: { id: rule.id } }, body }));
      toast.success(rule.enabled ? "Rule switched off." : "Rule switched on.");
      rules.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <PageHeader title="Rules" subtitle="What the rules engine checks before anything is sent.">
        {can("rules:write") && (
          <Link to="/rules/new" className="btn btn-primary">
            New rule
          </Link>
        )}
      </PageHeader>
      <ErrorNotice error={error} />
      <ListFilters listing={listing} />
      <Loaded state={rules} what="rules">
        {(all) => (
          <Listed
            rows={all}
            listing={listing}
            what="rule"
            none={
              <Empty title="No rules yet.">
                <p>Frequency caps, quiet hours, keyword filters, dedup windows and fatigue budgets apply to every send once created.</p>
              </Empty>
            }
          >
            {(list) => (
            <div className="table-wrap card">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Applies to</th>
                    <th scope="col">What it does</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td>{can("rules:write") ? <Link to={`/rules/${r.id}`}>{r.name}</Link> : r.name}</td>
                      <td>{label(r.kind)}</td>
                      <td>
                        {r.scope}
                        {r.scope_value ? `: ${r.scope_value}` : ""}
                        {r.exempt_categories.length > 0 && <div className="muted small">except {r.exempt_categories.join(", ")}</div>}
                      </td>
                      <td>{summary(r)}</td>
                      <td>
                        {can("rules:write") ? (
                          <Button kind="ghost" onClick={() => void toggle(r)} aria-pressed={r.enabled}>
                            {r.enabled ? "Enabled" : "Disabled"}
                          </Button>
                        ) : r.enabled ? (
                          "enabled"
                        ) : (
                          "disabled"
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
          </Listed>
        )}
      </Loaded>
      <ListEntries />
    </>
  );
}
