import { useState, type FormEvent } from "react";
import { describe } from "../api/errors";
import { useSession } from "../lib/auth";
import { Button, Field } from "../ui/kit";

export function Login() {
  const { login, ended } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <main className="login-page">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true">H</span>
          <h1 id="login-title">Log in to Herald</h1>
        </div>
        {ended && (
          <div className="notice notice-warning" role="status">
            {ended === "expired" ? "Your session has expired. Log in again to continue." : "You have been logged out. Log in again to continue."}
          </div>
        )}
        {error ? (
          <div className="notice notice-error" role="alert">
            {describe(error)}
          </div>
        ) : null}
        <Field label="Username">
          {(props) => (
            <input {...props} name="username" autoComplete="username" autoFocus required value={username} onChange={(e) => setUsername(e.target.value)} />
          )}
        </Field>
        <Field label="Password">
          {(props) => (
            <input {...props} name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <Button kind="primary" type="submit" busy={busy}>
          Log in
        </Button>
      </form>
    </main>
  );
}
