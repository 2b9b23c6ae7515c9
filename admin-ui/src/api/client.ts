// The typed API client: paths, parameters and bodies come from openapi/openapi.json
// (see scripts/gen-api.mjs). Cookie session; state-changing requests echo the CSRF
// token; a 401 anywhere but the login form means the session is over.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

// Served over HTTPS, the cookies carry the `__Host-` prefix (bound to this host).
const CSRF_COOKIES = new Set(["herald_csrf", "__Host-herald_csrf"]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfToken: string | null = null;

/// Keeps the token the login answered with (the cookie carries the same value).
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/// Whether the browser holds a session's readable half (the CSRF cookie): without it
/// there is no session to ask the server about.
export function mayHaveSession(): boolean {
  return csrfFromCookie() !== null;
}

function csrfFromCookie(): string | null {
  for (const part of document.cookie.split(";")) {
    const [name = "", ...value] = part.trim().split("=");
    if (CSRF_COOKIES.has(name)) return decodeURIComponent(value.join("="));
  }
  return null;
}

/// Listeners told when the server says the session is missing or expired.
const expiredListeners = new Set<(code: string) => void>();
export function onSessionExpired(listener: (code: string) => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/// The header a state-changing request sent outside the typed client (an upload with
/// progress) must carry.
export function csrfHeader(): Record<string, string> {
  const token = csrfFromCookie() ?? csrfToken;
  return token ? { "X-CSRF-Token": token } : {};
}

const session: Middleware = {
  onRequest({ request }) {
    if (!SAFE_METHODS.has(request.method)) {
      const token = csrfFromCookie() ?? csrfToken;
      if (token) request.headers.set("X-CSRF-Token", token);
    }
    return request;
  },
  async onResponse({ request, response }) {
    const path = new URL(request.url).pathname;
    if (response.status === 401 && path !== "/v1/auth/login" && path !== "/v1/auth/me") {
      const code = await errorCode(response.clone());
      for (const listener of expiredListeners) listener(code);
    }
    return response;
  },
};

async function errorCode(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { code?: string } };
    return body.error?.code ?? "unauthenticated";
  } catch {
    return "unauthenticated";
  }
}

// JSON answers only: a route that also offers CSV (`format=csv`) is read as JSON here.
export const api = createClient<paths, "application/json">({ baseUrl: window.location.origin, credentials: "include" });
api.use(session);
