// What counts as a failed attempt: status patterns, and how Envoy's response.code_details tells an
// upstream answer from an upstream failure (reset, timeout) and from a reply another filter generated.
import { Regex, compileRegex, regexError } from "../../shared/regex";

/** Why an attempt failed (or did not happen); the words appear in x-ai-fallback-tried. */
export const enum Cause { None, Status, Reset, Timeout, Malformed }

/** A set of HTTP statuses (100..599) built from patterns like "5xx", "429", "~^50[23]$" or "4.*". */
export class StatusSet {
  private hits: StaticArray<bool> = new StaticArray<bool>(600);

  has(status: i32): bool {
    return status >= 100 && status < 600 ? unchecked(this.hits[status]) : false;
  }

  /** Adds one pattern; returns "" or why it is invalid. */
  add(pattern: string): string {
    const p = pattern.trim();
    if (isDigits(p, 0, 3) && p.length == 3) {
      const s = I32.parseInt(p);
      if (s < 100 || s > 599) return "status " + p + " is outside 100..599";
      this.hits[s] = true;
      return "";
    }
    if (p.length == 3 && isDigits(p, 0, 1) && (p.charAt(1) == "x" || p.charAt(1) == "X") && (p.charAt(2) == "x" || p.charAt(2) == "X")) {
      const c = p.charCodeAt(0) - 48;
      if (c < 1 || c > 5) return "status class " + p + " is outside 1xx..5xx";
      for (let s = c * 100; s < c * 100 + 100; s++) this.hits[s] = true;
      return "";
    }
    // Anything else is a regular expression over the three digits, as Higress's retryOnStatus
    // ("4.*", "5.*"); it must match the whole status ("4.*" is not "any status containing a 4").
    const re: Regex | null = compileRegex(p.startsWith("~") ? p.substring(1) : p);
    if (re === null) return "bad pattern " + p + ": " + regexError();
    let any = false;
    for (let s = 100; s < 600; s++) {
      if (re.matchesWhole(s.toString())) { this.hits[s] = true; any = true; }
    }
    return any ? "" : "pattern " + p + " matches no status";
  }
}

function isDigits(s: string, from: i32, to: i32): bool {
  if (s.length < to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Where a response came from, read from Envoy's response.code_details. */
export const enum Origin { Upstream, UpstreamReset, UpstreamTimeout, LocalReply }

export function originOf(details: string): Origin {
  if (details == "via_upstream" || details.length == 0) return Origin.Upstream;
  // Envoy's router: the connection failed or was reset before any response header arrived.
  if (details.startsWith("upstream_reset_before_response_started") || details == "no_healthy_upstream" ||
      details.startsWith("upstream_overflow")) return Origin.UpstreamReset;
  if (details == "upstream_response_timeout" || details == "upstream_per_try_timeout" ||
      details == "upstream_per_try_idle_timeout") return Origin.UpstreamTimeout;
  return Origin.LocalReply;
}

/** Envoy's async client answers a callout it could not complete with these exact bodies. */
export const CALL_TIMEOUT_BODY = "upstream request timeout";
export const CALL_RESET_PREFIX = "upstream connect error or disconnect/reset before headers";

export function causeName(c: Cause, status: i32): string {
  switch (c) {
    case Cause.Status: return status.toString();
    case Cause.Reset: return "reset";
    case Cause.Timeout: return "timeout";
    case Cause.Malformed: return "malformed";
    default: return "ok";
  }
}
