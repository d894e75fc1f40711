/**
 * The sampling decision, made once per request in `beforeRequest`.
 *
 * A request that joins a client's trace follows the client's sampled flag,
 * so a trace is exported whole or not at all (the OpenTelemetry SDKs'
 * default, parent-based sampling). A request that starts a trace is kept
 * with probability `sampleRatio`.
 */
import type { ParentContext } from "./TraceContext.js"

/** Tells whether the span of a request is exported. `random` returns a number in [0, 1). */
export const isSampled = (parent: ParentContext | undefined, sampleRatio: number, random: () => number = Math.random): boolean => {
  if (parent !== undefined) return parent.sampled
  if (sampleRatio >= 1) return true
  return sampleRatio > 0 && random() < sampleRatio
}
