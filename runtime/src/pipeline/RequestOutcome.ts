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
  readonly #result: JsonResult | undefined

  constructor(fields: OutcomeFieldValues, result: JsonResult | undefined) {
    super(...fields)
    this.#result = result
    Object.defineProperty(this, "response", JsonOutcome.responseProperty)
  }

  // Reading the result's body may parse it, so it is read only when a hook reads `response`.
  private static readonly responseProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: JsonOutcome): unknown {
      return this.#result?.body
    }
  }
}

/** The outcome of a streamed response, whatever way the stream ended. */
export class StreamOutcome extends OutcomeFields implements Outcome {
  declare readonly streamedText: string
  readonly #endpoint: Endpoint
  readonly #progress: StreamProgress
  #text: string | undefined = undefined

  constructor(
    fields: OutcomeFieldValues,
    /** The chat completion of a completed stream, else undefined. */
    readonly response: unknown,
    endpoint: Endpoint,
    progress: StreamProgress
  ) {
    super(...fields)
    this.#endpoint = endpoint
    this.#progress = progress
    Object.defineProperty(this, "streamedText", StreamOutcome.streamedTextProperty)
  }

  private static readonly streamedTextProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: StreamOutcome): string {
      this.#text ??= streamedText(this.#endpoint, this.#progress)
      return this.#text
    }
  }
}
