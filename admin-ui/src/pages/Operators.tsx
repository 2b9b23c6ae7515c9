// Operators and their roles: add one, change a role, disable or enable.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, fieldError } from "../api/errors";
import { useOperator } from "../lib/auth";
import { when } from "../lib/format";
import { useApi } from "../lib/useApi";
import { Button, ErrorNotice, Field, Loaded, PageHeader } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";
import { useToast } from "../ui/toasts";

type Role = Schemas["Role"];
const ROLES: { role: Role; what: string }[] = [
  { role: "admin", what: "everything" },
  { role: "editor", what: "content and subscribers" },
  { role: "reviewer", what: "reads, approves" },
  { role: "viewer", what: "reads, audit log" },
];

export function Operators() {
  const me = useOperator();
  const listing = useListing("oldest");
  const operators = useApi(() => call(api.GET("/v1/operators", { params: { query: listing.query } })), listing.deps);
  const [form, setForm] = useState({ username: "", display_name: "", password: "", role: "editor" as Role });
  const [error, setError] = useState<unknown>(null);
  const [rowError, setRowError] = useState<unknown>(null);
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await call(api.POST("/v1/operators", { body: { ...form, display_name: form.display_name || null } }));
      toast.success(`${created.username} can now log in as ${created.role}.`);
      setForm({ username: "", display_name: "", password: "", role: "editor" });
      operators.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const patch = async (id: number, body: Schemas["OperatorPatch"]) => {
    setRowError(null);
    try {
      await call(api.PATCH("/v1/operators/{id}", { params: { path: { id } }, body }));
      operators.reload();
    } catch (e) {
      setRowError(e);
    }
  };

  const err = (f: string) => fieldError(error, f);
  return (
    <>
      <PageHeader title="Operators" subtitle="People who use this console, and what their role lets them do." />
      <form className="card" onSubmit={create} aria-label="New operator" noValidate>
        <h2>New operator</h2>
        {error && !["username", "password", "role", "display_name"].some((f) => err(f)) ? <ErrorNotice error={error} /> : null}
        <div className="row">
          <Field label="Username" error={err("username")} hint="Letters, digits and . _ - @">
            {(p) => <input {...p} required autoComplete="off" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />}
          </Field>
          <Field label="Display name" error={err("display_name")}>
            {(p) => <input {...p} value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} />}
          </Field>
        </div>
        <div className="row">
          <Field label="Initial password" error={err("password")}>
            {(p) => <input {...p} type="password" autoComplete="new-password" required value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />}
          </Field>
          <Field label="Role" error={err("role")}>
            {(p) => (
              <select {...p} value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
                {ROLES.map((r) => (
                  <option key={r.role} value={r.role}>
                    {r.role} ({r.what})
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <div className="form-actions">
          <Button kind="primary" type="submit" busy={busy}>
            Add operator
          </Button>
        </div>
      </form>
      <ErrorNotice error={rowError} />
      <ListFilters listing={listing} field="username" />
      <Loaded state={operators} what="operators">
        {(all) => (
          <Listed rows={all} listing={listing} what="operator" none={null}>
            {(list) => (
          <div className="table-wrap card">
            <table>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Last login</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {list.map((o) => (
                  <tr key={o.id}>
                    <td>
                      {o.username}
                      {o.id === me.id && <span className="muted"> (you)</span>}
                    </td>
                    <td>{o.display_name || "—"}</td>
                    <td>
                      <select aria-label={`Role of ${o.username}`} value={o.role} onChange={(e) => void patch(o.id, { role: e.target.value as Role })}>
                        {ROLES.map((r) => (
                          <option key={r.role} value={r.role}>
                            {r.role}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>{when(o.last_login_at)}</td>
                    <td>
                      <Button kind={o.disabled ? "secondary" : "ghost"} onClick={() => void patch(o.id, { disabled: !o.disabled })} disabled={o.id === me.id}>
                        {o.disabled ? "Enable" : "Disable"}
                      </Button>
                      {o.disabled && <span className="badge badge-danger">disabled</span>}
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
    </>
  );
}
