// One error type for every failed call: the API's stable code, its message, and the
// input field at fault when there is one (`content.email.subject`).
import type { Schemas } from "./client";

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

/// What the operator reads for a code; the API's own message where it says more.
const EXPLAINED: Record<string, string> = {
  invalid_credentials: "Wrong username or password.",
  unauthenticated: "You are not logged in.",
  session_expired: "Your session has expired. Log in again.",
  csrf_failed: "This page's security token is stale. Reload the page and try again.",
  timeout: "Herald took too long to answer. Try again.",
  internal: "Herald hit an internal error. The server log has the details.",
  unavailable: "Herald is busy or cannot reach its database right now. Try again shortly.",
  too_many_attempts: "Too many failed logins. Wait a little, then try again.",
  payload_too_large: "That is more than Herald accepts in one request.",
  network: "Cannot reach Herald. Check that the server is running.",
};

export function describe(error: unknown): string {
  if (error instanceof ApiFailure) {
    const explained = EXPLAINED[error.code];
    if (explained) return explained;
    const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
    return error.code === "forbidden" && !error.message ? "Your role does not allow this." : message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/// Awaits an openapi-fetch call and returns its data, or throws an ApiFailure.
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (cause) {
    throw new ApiFailure(0, "network", cause instanceof Error ? cause.message : String(cause));
  }
  if (answer.error !== undefined || !answer.response.ok) {
    const body = answer.error as Partial<Schemas["ErrorBody"]> | undefined;
    const detail = body?.error;
    throw new ApiFailure(
      answer.response.status,
      detail?.code ?? `http_${answer.response.status}`,
      detail?.message ?? answer.response.statusText,
      detail?.field ?? null,
    );
  }
  return answer.data as T;
}

/// The error for one form field, when the failure names exactly that field.
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiFailure) || !error.field) return undefined;
  return error.field === field ? describe(error) : undefined;
}
