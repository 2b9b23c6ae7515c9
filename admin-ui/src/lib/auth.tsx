// The operator's session: who is logged in, what their role may do, logging in and
// out, and falling back to the login page when the server ends the session.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, mayHaveSession, onSessionExpired, setCsrfToken, type Schemas } from "../api/client";
import { ApiFailure, call } from "../api/errors";
import { grants, type Scope } from "./permissions";

type Operator = Schemas["OperatorOut"];

type Session = {
  operator: Operator | null;
  /// Why the last session ended, for the login page ("expired").
  ended: string | null;
  can: (scope: Scope) => boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
};

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [operator, setOperator] = useState<Operator | null>(null);
  const [checked, setChecked] = useState(false);
  const [ended, setEnded] = useState<string | null>(null);

  useEffect(() => {
    if (mayHaveSession()) {
      call(api.GET("/v1/auth/me"))
        .then((me) => setOperator(me))
        .catch(() => setOperator(null))
        .finally(() => setChecked(true));
    } else {
      setChecked(true);
    }
    return onSessionExpired((code) => {
      setOperator((was) => {
        if (was) setEnded(code === "session_expired" ? "expired" : "ended");
        return null;
      });
    });
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const session = await call(api.POST("/v1/auth/login", { body: { username, password } }));
    setCsrfToken(session.csrf_token);
    setEnded(null);
    setOperator(session.operator);
  }, []);

  const logout = useCallback(async () => {
    try {
      await call(api.POST("/v1/auth/logout"));
    } catch (error) {
      // Already logged out on the server: the outcome is the same.
      if (!(error instanceof ApiFailure) || error.status !== 401) throw error;
    }
    setCsrfToken(null);
    setEnded(null);
    setOperator(null);
  }, []);

  const value = useMemo<Session>(
    () => ({
      operator,
      ended,
      can: (scope) => operator !== null && grants(operator.role, scope),
      login,
      logout,
    }),
    [operator, ended, login, logout],
  );

  if (!checked) return <div className="boot" role="status">Loading Herald…</div>;
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

/// The logged-in operator (the shell only renders pages with one).
export function useOperator(): Operator {
  const { operator } = useSession();
  if (!operator) throw new Error("no operator");
  return operator;
}
