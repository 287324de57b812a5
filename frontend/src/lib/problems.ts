/**
 * A readable account of an API refusal: a short title by status, the API's message, and hints from its
 * details (the campaign's current status after a 409, the rule part after a 400 on an RRULE, field errors).
 */
import { ApiProblem, describeError } from "../api/errors";

export interface ProblemView {
  title: string;
  message: string;
  hints: string[];
}

const TITLES: Record<number, string> = {
  400: "Please check this:",
  403: "Not allowed:",
  404: "Not found:",
  409: "Not possible right now:",
  413: "Too large:",
  429: "Slow down:",
  502: "The provider failed:",
  503: "Unavailable:",
};

/** Details that describe the refusal rather than a form field. */
const CONTEXT_KEYS = new Set(["current_status", "requested_status", "allowed", "problems", "plan", "min_interval_minutes", "found_interval_seconds", "between", "fields", "schedule_type", "part"]);

const STATUS_WORDS: Record<string, string> = { draft: "a draft", scheduled: "scheduled", running: "running", paused: "paused", completed: "completed", cancelled: "cancelled" };

export function describeProblem(error: unknown): ProblemView {
  const message = describeError(error);
  if (!(error instanceof ApiProblem)) return { title: "", message, hints: [] };
  const hints: string[] = [];
  const d = error.details;
  const current = d.current_status?.[0];
  if (current) hints.push(`The campaign is ${STATUS_WORDS[current] ?? current} now.`);
  if (d.allowed) hints.push(d.allowed.length ? `From here it can become: ${d.allowed.join(", ")}.` : "It cannot change status any more.");
  if (d.part?.[0]) hints.push(`Rule part: ${d.part[0]}.`);
  for (const [field, messages] of Object.entries(d)) {
    if (CONTEXT_KEYS.has(field) || field === "non_field_errors") continue;
    for (const m of messages) if (!message.includes(m)) hints.push(`${field.replaceAll("_", " ")}: ${m}`);
  }
  for (const m of d.non_field_errors ?? []) if (!message.includes(m)) hints.push(m);
  return { title: TITLES[error.status] ?? "", message, hints };
}
