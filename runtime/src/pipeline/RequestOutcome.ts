/**
 * The `Outcome` that after hooks get, one class per kind of response. The
 * lazy fields (a JSON body parsed on first read, a stream's text joined on
 * first read) use getters that all instances share (see the SDK's
 * `sharedGetter`), so a hook's `{ ...outcome }` copy keeps them.
 */
import { bodyIfParsed, sharedGetter, type Endpoint, type GatewayError, type JsonResult, type Outcome, type Usage } from "@fluxen/sdk"
import { streamedText, type StreamProgress } from "./relayStream.js"
import { modelOfBody } from "./responseModel.js"

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
    readonly answeredByHook: boolean,
    readonly upstreamResponded: boolean
  ) {}
}

/** The values of the fields above, in their order. */
export type OutcomeFieldValues = ConstructorParameters<typeof OutcomeFields>

/** The outcome of a JSON response, and of a request that failed before its stream started. */
export class JsonOutcome extends OutcomeFields implements Outcome {
  declare readonly response: unknown
  declare readonly responseModel: string | undefined
  readonly streamedText = ""
  readonly [resultKey]: JsonResult | undefined

  constructor(fields: OutcomeFieldValues, result: JsonResult | undefined) {
    super(...fields)
    this[resultKey] = result
    Object.defineProperty(this, "response", JsonOutcome.responseProperty)
    Object.defineProperty(this, "responseModel", JsonOutcome.responseModelProperty)
  }

  // Reading the result's body may parse it, so it is read only when a hook reads `response`.
  private static readonly responseProperty = sharedGetter(function (this: JsonOutcome): unknown {
    return this[resultKey]?.body
  })

  // Read when a hook reads it, so a body that an earlier hook parsed (a cache storing it) gives its model too.
  private static readonly responseModelProperty = sharedGetter(function (this: JsonOutcome): string | undefined {
    const result = this[resultKey]
    return result === undefined ? undefined : modelOfBody(bodyIfParsed(result))
  })
}

/** The outcome of a streamed response, whatever way the stream ended. */
export class StreamOutcome extends OutcomeFields implements Outcome {
  declare readonly streamedText: string
  readonly responseModel: string | undefined
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
    // The completion names the model when the relay passed over every event that did, as it does
    // with the unparsed chunks of an OpenAI-compatible stream that a hook had assembled.
    this.responseModel = progress.responseModel ?? modelOfBody(response)
    this[endpointKey] = endpoint
    this[progressKey] = progress
    Object.defineProperty(this, "streamedText", StreamOutcome.streamedTextProperty)
  }

  private static readonly streamedTextProperty = sharedGetter(function (this: StreamOutcome): string {
    if (this[textKey] !== undefined) return this[textKey]
    const text = streamedText(this[endpointKey], this[progressKey])
    // A frozen outcome cannot keep the text, so it joins the text again on the next read.
    if (!Object.isFrozen(this)) this[textKey] = text
    return text
  })
}
