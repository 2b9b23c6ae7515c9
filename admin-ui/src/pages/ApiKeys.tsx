// API keys for product services: created with the scopes a key may hold (the secret is
// shown once), listed by prefix, revoked.
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { call, fieldError } from "../api/errors";
import { localInputToIso, when } from "../lib/format";
import { useApi } from "../lib/useApi";
import { Button, Empty, ErrorNotice, Field, Loaded, Notice, PageHeader } from "../ui/kit";
import { ListFilters, Listed, useListing } from "../ui/ListControls";
import { useToast } from "../ui/toasts";

const SCOPES: Schemas["Scope"][] = [
  "subscribers:read", "subscribers:write", "messages:send", "events:manage",
];

export function ApiKeys() {
  const listing = useListing("oldest");
  const keys = useApi(() => call(api.GET("/v1/api-keys", { params: { query: listing.query } })), listing.deps);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["subscribers:write", "messages:send"]);
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState<Schemas["CreatedApiKeyOut"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated(await call(api.POST("/v1/api-keys", { body: { name: name.trim(), scopes, expires_at: localInputToIso(expires) } })));
      setName("");
      keys.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (key: Schemas["ApiKeyOut"]) => {
    if (!window.confirm(`Revoke “${key.name}”? Services using it stop working at once.`)) return;
    try {
      await call(api.DELETE("/v1/api-keys/{id}", { params: { path: { id: key.id } } }));
      toast.success("API key revoked.");
      keys.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <PageHeader title="API keys" subtitle="Keys for product services to call the REST API." />
      {created && (
        <Notice kind="success">
          <p>
            Key “{created.api_key.name}” created. Copy the secret now: it is not shown again.
          </p>
          <p className="secret">
            <code>{created.secret}</code>{" "}
            <Button kind="ghost" onClick={() => void navigator.clipboard?.writeText(created.secret)}>
              Copy
            </Button>
          </p>
        </Notice>
      )}
      <form className="card" onSubmit={create} aria-label="New API key" noValidate>
        <h2>New key</h2>
        {error && !fieldError(error, "name") && !fieldError(error, "scopes") ? <ErrorNotice error={error} /> : null}
        <div className="row">
          <Field label="Name" error={fieldError(error, "name")} hint="The service that will use it.">
            {(p) => <input {...p} required value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Expires (optional)" error={fieldError(error, "expires_at")}>
            {(p) => <input {...p} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />}
          </Field>
        </div>
        <fieldset className="choices inline">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} className="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}
            </label>
          ))}
          {fieldError(error, "scopes") && <p className="field-error">{fieldError(error, "scopes")}</p>}
        </fieldset>
        <div className="form-actions">
          <Button kind="primary" type="submit" busy={busy}>
            Create key
          </Button>
        </div>
      </form>
      <ListFilters listing={listing} />
      <Loaded state={keys} what="API keys">
        {(all) => (
          <Listed rows={all} listing={listing} what="API key" none={<Empty title="No API keys yet." />}>
            {(list) => (
            <div className="table-wrap card">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Prefix</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Last used</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((k) => (
                    <tr key={k.id}>
                      <td>{k.name}</td>
                      <td>
                        <code>{k.prefix}</code>
                      </td>
                      <td className="small">{k.scopes.join(", ")}</td>
                      <td>{when(k.last_used_at)}</td>
                      <td>{k.revoked_at ? `revoked ${when(k.revoked_at)}` : k.expires_at ? `expires ${when(k.expires_at)}` : "active"}</td>
                      <td>
                        {!k.revoked_at && (
                          <Button kind="danger" onClick={() => void revoke(k)}>
                            Revoke
                          </Button>
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
    </>
  );
}
