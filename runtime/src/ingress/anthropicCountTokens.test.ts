import { describe, expect, it } from "@effect/vitest"
import { UpstreamHttpError, type CallContext, type CountTokensRequest, type ProviderAdapter } from "@fluxen/sdk"
import { Effect } from "effect"
import { invokeCountTokens } from "./anthropicCountTokens.js"
import { estimateInputTokens } from "./estimateInputTokens.js"

const request: CountTokensRequest = { model: "claude", messages: [{ role: "user", content: "How many tokens is this?" }] }

const context: CallContext = {
  requestId: "req-count",
  upstreamModel: "gpt-4o-mini",
  signal: new AbortController().signal,
  idleTimeoutMs: 5_000,
  clientHeaders: { get: () => undefined }
}

// Only the calls these tests make are implemented, so any other call fails loudly.
const unused = () => Effect.die(new Error("The count route called a chat or embeddings method."))
const chatOnlyAdapter: ProviderAdapter = { chat: unused, chatStream: unused, embeddings: unused }

describe("invokeCountTokens", () => {
  it.effect("returns the adapter's count", () =>
    Effect.gen(function* () {
      const counting: ProviderAdapter = {
        ...chatOnlyAdapter,
        countTokens: () => Effect.succeed({ inputTokens: 17, headers: { "anthropic-ratelimit-requests-remaining": "9" } })
      }

      const result = yield* invokeCountTokens(counting, request, context)

      expect(result.status).toBe(200)
      expect(result.body).toEqual({ input_tokens: 17 })
      expect(result.headers).toEqual({ "anthropic-ratelimit-requests-remaining": "9", "x-fluxen-token-count": "upstream" })
    })
  )

  it.effect("estimates without adapter support", () =>
    Effect.gen(function* () {
      const expected = yield* estimateInputTokens(request, context.upstreamModel)

      const result = yield* invokeCountTokens(chatOnlyAdapter, request, context)

      expect(result.body).toEqual({ input_tokens: expected })
      expect(result.headers).toEqual({ "x-fluxen-token-count": "estimate" })
    })
  )

  it.effect("passes the adapter's error on", () =>
    Effect.gen(function* () {
      const failure = new UpstreamHttpError({
        provider: "anthropic",
        status: 429,
        error: { message: "Slow down.", type: "rate_limit_error", param: null, code: null },
        headers: {}
      })
      const failing: ProviderAdapter = { ...chatOnlyAdapter, countTokens: () => Effect.fail(failure) }

      const error = yield* Effect.flip(invokeCountTokens(failing, request, context))

      expect(error).toBe(failure)
    })
  )
})
