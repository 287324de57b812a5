/** The API's one error shape, {"error": {"code", "message", "details"}}, as a typed Error. */

export type FieldErrors = Record<string, string[]>;

export class ApiProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldErrors;
  /** Seconds from the response's Retry-After header (429, 503), when it had one. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, details: FieldErrors = {}, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiProblem";
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

/** Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date = new Date()): number | null {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

interface ErrorShape {
  error: { code: string; message: string; details?: unknown };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isErrorShape(body: unknown): body is ErrorShape {
  if (!isRecord(body) || !isRecord(body.error)) return false;
  return typeof body.error.code === "string" && typeof body.error.message === "string";
}

/**
 * DRF details are `{field: [msg]}`, but nested serializers and list fields nest further
 * (`{scopes: {"0": ["…"]}}`). Flatten to `{"field": [msg, …]}` keyed by the top-level field, which is
 * what a form can show next to an input.
 */
export function normalizeDetails(details: unknown): FieldErrors {
  if (!isRecord(details)) return {};
  const out: FieldErrors = {};
  for (const [field, value] of Object.entries(details)) {
    const messages = collectMessages(value);
    if (messages.length) out[field] = messages;
  }
  return out;
}

function collectMessages(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(collectMessages);
  if (isRecord(value)) return Object.values(value).flatMap(collectMessages);
  return [];
}

const STATUS_MESSAGES: Record<number, string> = {
  401: "Your session has ended. Sign in again.",
  403: "You do not have permission to do this.",
  404: "Not found.",
  413: "The request is too large.",
  429: "Too many requests. Wait a moment and try again.",
  502: "The server is unavailable. Try again in a moment.",
  503: "The server is unavailable. Try again in a moment.",
  504: "The server took too long to answer. Try again.",
};

/** Builds an ApiProblem from a failed response's status and (parsed JSON or raw text) body. */
export function toApiProblem(status: number, body: unknown, retryAfter: number | null = null): ApiProblem {
  if (isErrorShape(body)) {
    return new ApiProblem(status, body.error.code, body.error.message, normalizeDetails(body.error.details), retryAfter);
  }
  const message = STATUS_MESSAGES[status] ?? `The request failed (HTTP ${status}).`;
  return new ApiProblem(status, `http_${status}`, message, {}, retryAfter);
}

export function networkProblem(): ApiProblem {
  return new ApiProblem(0, "network_error", "Cannot reach the server. Check your connection and try again.");
}

/** First message per field, for showing next to inputs; `non_field_errors` is left to the banner. */
export function fieldMessages(problem: unknown): Record<string, string> {
  if (!(problem instanceof ApiProblem)) return {};
  const out: Record<string, string> = {};
  for (const [field, messages] of Object.entries(problem.details)) {
    if (field !== "non_field_errors" && messages[0]) out[field] = messages[0];
  }
  return out;
}

/** A sentence for any thrown value: the API's message, or a generic one. */
export function describeError(error: unknown): string {
  if (error instanceof ApiProblem) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}
