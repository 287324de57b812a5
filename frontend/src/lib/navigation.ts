/** Where to go after signing in: only a path on this site, never another origin (open redirect). */
export function safeNext(next: string | null | undefined, fallback = "/"): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return fallback;
  if (/^\/(signin|register)\b/.test(next)) return fallback;
  return next;
}
