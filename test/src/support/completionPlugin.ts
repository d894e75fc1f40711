/**
 * A hook plugin for the stream tests, loaded by its compiled file's path. Its
 * `beforeRequest` hook serves every streamed chat request itself: it replays
 * a fixed completion as a stream that carries that completion, as a cache
 * does. Its `afterResponse` hook notes the response it was given, in a
 * global that the test reads, since the gateway imports this file separately.
 */
import { chatCompletionToStreamEvents, definePlugin, Plugin, SDK_API_VERSION, type ChatCompletion } from "@fluxen/sdk"
import { Effect, Layer, Schema } from "effect"

/** The global key of the list of responses the after hook received. */
export const SEEN_RESPONSES = Symbol.for("fluxen-test-completion-plugin/seen")

export interface SeenResponse {
  /** The completion the hook returned with the stream. */
  readonly returned: ChatCompletion
  readonly response: unknown
}

const seen = (): Array<SeenResponse> => {
  const holder = globalThis as { [SEEN_RESPONSES]?: Array<SeenResponse> }
  holder[SEEN_RESPONSES] ??= []
  return holder[SEEN_RESPONSES]
}

const RETURNED = "@fluxen-test/completion-plugin/returned"

const completionFor = (model: string): ChatCompletion => ({
  id: "chatcmpl-stored",
  object: "chat.completion",
  created: 1_770_000_000,
  model,
  choices: [{ index: 0, message: { role: "assistant", content: "A stored answer.", refusal: null }, finish_reason: "stop", logprobs: null }],
  usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 }
})

export default definePlugin({
  name: "fluxen-test-completion",
  version: "0.0.0",
  sdkApiVersion: SDK_API_VERSION,
  configSchema: Schema.Struct({}),
  layer: () =>
    Layer.succeed(Plugin, {
      hooks: {
        needsAssembledStream: true,
        beforeRequest: (context) => {
          if (!context.stream || context.endpoint !== "chat") return Effect.succeed(undefined)
          const completion = completionFor(context.route.upstreamModel)
          context.attributes.set(RETURNED, completion)
          const events = chatCompletionToStreamEvents(completion, { includeUsage: true })
          return Effect.succeed({ respond: { _tag: "Stream" as const, status: 200, headers: {}, events, completion } })
        },
        afterResponse: (context, outcome) => {
          const returned = context.attributes.get(RETURNED) as ChatCompletion | undefined
          if (returned !== undefined) seen().push({ returned, response: outcome.response })
          return Effect.void
        }
      }
    })
})
