/**
 * Reading the client's W3C Trace Context headers (`traceparent` and
 * `tracestate`, Trace Context Level 1), so that a request's span joins the
 * client's trace. An invalid header is ignored and the span starts a trace.
 */

/** The client's span that a request's span is a child of. */
export interface ParentContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string
  /** The client span's id, 16 lowercase hex digits. */
  readonly spanId: string
  /** The client's sampled flag (bit 0 of `trace-flags`). */
  readonly sampled: boolean
  /** The client's `tracestate`, when it was valid. */
  readonly traceState: string | undefined
}

// version - trace-id - parent-id - trace-flags. A later version may append
// fields after another "-", which this version's reader skips.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/
const VERSION_00_LENGTH = 55
const ZERO_TRACE_ID = "0".repeat(32)
const ZERO_SPAN_ID = "0".repeat(16)

/** Parses a `traceparent` value, or returns undefined when it is missing or invalid. */
export const parseTraceParent = (
  traceparent: string | undefined,
  tracestate: string | undefined
): ParentContext | undefined => {
  if (traceparent === undefined) return undefined
  const match = TRACEPARENT.exec(traceparent)
  if (match === null) return undefined
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string]
  if (version === "ff") return undefined
  if (version === "00" && traceparent.length !== VERSION_00_LENGTH) return undefined
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined
  return {
    traceId,
    spanId,
    sampled: (Number.parseInt(flags, 16) & 1) === 1,
    traceState: parseTraceState(tracestate)
  }
}

const MAX_TRACESTATE_MEMBERS = 32
// W3C Trace Context recommends that implementations propagate at least 512 characters of
// `tracestate`. A longer value is dropped whole.
const MAX_TRACESTATE_LENGTH = 512
const TRACESTATE_KEY = /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})$/
// Printable ASCII without "," and "=", possibly with inner spaces, not ending in a space.
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

/** Returns the `tracestate` list without empty members, or undefined when it is missing or invalid. */
export const parseTraceState = (tracestate: string | undefined): string | undefined => {
  if (tracestate === undefined || tracestate.length > MAX_TRACESTATE_LENGTH) return undefined
  const members: Array<string> = []
  for (const raw of tracestate.split(",")) {
    const member = raw.trim()
    if (member === "") continue
    const equals = member.indexOf("=")
    if (equals <= 0) return undefined
    if (!TRACESTATE_KEY.test(member.slice(0, equals)) || !TRACESTATE_VALUE.test(member.slice(equals + 1))) return undefined
    members.push(member)
  }
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined
  return members.join(",")
}
