// The fields of one rule kind's parameters.
import { Field } from "../../ui/kit";
import type { RuleForm } from "./ruleForm";

type Props = { form: RuleForm; set: (patch: Partial<RuleForm>) => void; err: (field: string) => string | undefined };

export function KindFields({ form, set, err }: Props) {
  switch (form.kind) {
    case "frequency_cap":
      return (
        <div className="row">
          <Field label="At most" error={err("params.max") ?? err("max")} hint="Deliveries per subscriber.">
            {(p) => <input {...p} type="number" min={0} value={form.max} onChange={(e) => set({ max: e.target.value })} />}
          </Field>
          <Field label="Counted per">
            {(p) => (
              <select {...p} value={form.per} onChange={(e) => set({ per: e.target.value as RuleForm["per"] })}>
                <option value="channel">channel</option>
                <option value="category">category</option>
              </select>
            )}
          </Field>
          <Field label="Window" hint="Calendar windows are the subscriber's own day or week.">
            {(p) => (
              <select {...p} value={form.window} onChange={(e) => set({ window: e.target.value as RuleForm["window"] })}>
                <option value="hour">hour</option>
                <option value="day">day</option>
                <option value="week">week</option>
                <option value="rolling">rolling</option>
              </select>
            )}
          </Field>
          {form.window === "rolling" && (
            <Field label="Rolling window (seconds)" error={err("params.rolling_secs") ?? err("rolling_secs")}>
              {(p) => <input {...p} type="number" min={1} value={form.rollingSecs} onChange={(e) => set({ rollingSecs: e.target.value })} />}
            </Field>
          )}
        </div>
      );
    case "quiet_hours":
      return (
        <div className="row">
          <Field label="Allowed from" error={err("params.allowed_from") ?? err("allowed_from")} hint="Subscriber's local time.">
            {(p) => <input {...p} type="time" value={form.from} onChange={(e) => set({ from: e.target.value })} />}
          </Field>
          <Field label="Allowed until" error={err("params.allowed_until") ?? err("allowed_until")} hint="Earlier than “from” spans midnight.">
            {(p) => <input {...p} type="time" value={form.until} onChange={(e) => set({ until: e.target.value })} />}
          </Field>
          <Field label="Default time zone" error={err("params.default_timezone") ?? err("default_timezone")} hint="For subscribers without one.">
            {(p) => <input {...p} value={form.timezone} onChange={(e) => set({ timezone: e.target.value })} placeholder="Europe/Berlin" />}
          </Field>
          <Field label="Outside the window">
            {(p) => (
              <select {...p} value={form.action} onChange={(e) => set({ action: e.target.value as RuleForm["action"] })}>
                <option value="defer">defer until it opens</option>
                <option value="drop">drop</option>
              </select>
            )}
          </Field>
        </div>
      );
    case "keyword":
      return (
        <>
          <Field label="Banned words" error={err("params.words") ?? err("words")} hint="One word or phrase per line.">
            {(p) => <textarea {...p} rows={4} value={form.words} onChange={(e) => set({ words: e.target.value })} />}
          </Field>
          <label className="check">
            <input type="checkbox" checked={form.wholeWord} onChange={(e) => set({ wholeWord: e.target.checked })} /> Whole words only (“ass” does not match “class”)
          </label>
        </>
      );
    case "fatigue_budget":
      return (
        <>
          <div className="row">
            <Field label="At most" error={err("params.max") ?? err("max")} hint="Sends per subscriber, every channel and category together.">
              {(p) => <input {...p} type="number" min={0} value={form.max} onChange={(e) => set({ max: e.target.value })} />}
            </Field>
            <Field label="Window" error={err("params.window")} hint="The subscriber's own hour, day or week.">
              {(p) => (
                <select {...p} value={form.window} onChange={(e) => set({ window: e.target.value as RuleForm["window"] })}>
                  <option value="hour">hour</option>
                  <option value="day">day</option>
                  <option value="week">week</option>
                </select>
              )}
            </Field>
            <Field label="Per channel (optional)" error={err("params.per_channel")} hint="Tighter budgets inside the total, e.g. push: 2, email: 1">
              {(p) => <input {...p} value={form.channelBudgets} onChange={(e) => set({ channelBudgets: e.target.value })} placeholder="push: 2" />}
            </Field>
          </div>
          <Field
            label="Priority classes"
            error={err("params.classes")}
            hint="Highest first, one per line: a name, a colon, its categories. Other categories form the lowest class. A send counts only sends of its class and higher."
          >
            {(p) => (
              <textarea {...p} rows={3} value={form.classes} onChange={(e) => set({ classes: e.target.value })} placeholder={"transactional: security, billing\nalert: alerts"} />
            )}
          </Field>
        </>
      );
    case "dedup":
      return (
        <div className="row">
          <Field label="Window (seconds)" error={err("params.window_secs") ?? err("window_secs")}>
            {(p) => <input {...p} type="number" min={1} value={form.windowSecs} onChange={(e) => set({ windowSecs: e.target.value })} />}
          </Field>
          <Field label="Same">
            {(p) => (
              <select {...p} value={form.by} onChange={(e) => set({ by: e.target.value as RuleForm["by"] })}>
                <option value="template">template</option>
                <option value="dedup_key">dedup key</option>
              </select>
            )}
          </Field>
        </div>
      );
  }
}
