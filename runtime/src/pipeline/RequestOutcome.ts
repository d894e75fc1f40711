/**
 * The `Outcome` that after hooks get, one class per kind of response. The
 * lazy fields (a JSON body parsed on first read, a stream's text joined on
 * first read) are own, enumerable accessors with getters shared by every
 * instance, so a hook's `{ ...outcome }` copy keeps them. Getters made per
 * request would keep the request's objects alive until a full collection
 * (see `ExchangeCallContext`).
 */
import type { Endpoint, GatewayError, JsonResult, Outcome, Usage } from "@fluxen/sdk"
import { streamedText, type StreamProgress } from "./relayStream.js"

// The state that the shared getters read is kept under symbols rather than in private fields, so
// that the getters also work on an object derived with `Object.create` or behind a Proxy.
const resultKey: unique symbol = Symbol("result")
const endpointKey: unique symbol = Symbol("endpoint")
const progressKey: unique symbol = Symbol("progress")
const textKey: unique symbol = Symbol("text")

/** The fields that every outcome has as plain values. */
abstract class OutcomeFields {
  constructor(
    readonly status: Outcome["status"],
    readonly httpStatus: number,
    readonly usage: Usage | undefined,
    readonly error: GatewayError | undefined,
    readonly answeredByHook: boolean
  ) {}
}

/** The values of the fields above, in their order. */
export type OutcomeFieldValues = ConstructorParameters<typeof OutcomeFields>

/** Outcome of a JSON response, and of a request that failed before its stream started. */
export class JsonOutcome extends OutcomeFields implements Outcome {
  declare readonly response: unknown
  readonly streamedText = ""
  readonly [resultKey]: JsonResult | undefined

  constructor(fields: OutcomeFieldValues, result: JsonResult | undefined) {
    super(...fields)
    this[resultKey] = result
    Object.defineProperty(this, "response", JsonOutcome.responseProperty)
  }

  // Reading the result's body may parse it, so it is read only when a hook reads `response`.
  private static readonly responseProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: JsonOutcome): unknown {
      return this[resultKey]?.body
    }
  }
}

/** The outcome of a streamed response, whatever way the stream ended. */
export class StreamOutcome extends OutcomeFields implements Outcome {
  declare readonly streamedText: string
  readonly [endpointKey]: Endpoint
  readonly [progressKey]: StreamProgress
  [textKey]: string | undefined = undefined

  constructor(
    fields: OutcomeFieldValues,
    /** The chat completion of a completed stream, else undefined. */
    readonly response: unknown,
    endpoint: Endpoint,
    progress: StreamProgress
  ) {
    super(...fields)
    this[endpointKey] = endpoint
    this[progressKey] = progress
    Object.defineProperty(this, "streamedText", StreamOutcome.streamedTextProperty)
  }

  private static readonly streamedTextProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: StreamOutcome): string {
      if (this[textKey] !== undefined) return this[textKey]
      const text = streamedText(this[endpointKey], this[progressKey])
      // A frozen outcome cannot keep it, and joins the text again on the next read.
      if (!Object.isFrozen(this)) this[textKey] = text
      return text
    }
  }
}
