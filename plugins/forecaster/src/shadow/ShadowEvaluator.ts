/**
 * Shadow evaluation: a sample of successful chat requests is sent again
 * with a cheaper candidate model, and the two outputs are compared (see
 * `compareOutputs.ts`). The results become evidence for the
 * recommendations. No client request is ever routed to the candidate.
 *
 * The shadow request starts in `afterResponse`, in a fiber of the plugin's
 * scope, and the hook returns at once. So the client's response is never
 * changed, and the request's end (its usage record, the hook timeout,
 * shutdown draining) does not wait for the shadow. Closing the plugin
 * aborts the shadow requests in flight. They go through the gateway itself
 * (`baseUrl`), so they are authenticated, priced and recorded in the usage
 * table like any other request. They carry `SHADOW_HEADER`, and requests
 * with that header are never sampled, so a shadow request cannot start
 * another one.
 */
import { priceLookupNames } from "@fluxen/analyzer"
import type { HttpTransportService, Outcome, RequestContext, RequestHooks, Route } from "@fluxen/sdk"
import { Clock, Effect, Random, Redacted } from "effect"
import type { Scope } from "effect"
import type { ShadowConfig } from "../ForecasterConfig.js"
import { postJson } from "../postJson.js"
import { outputText, compareOutputs } from "./compareOutputs.js"
import type { ShadowResult, ShadowStore } from "./ShadowStore.js"

/** Marks a shadow request; the forecaster never samples a request that has it. */
export const SHADOW_HEADER = "x-fluxen-shadow"

export interface ShadowEvaluatorOptions {
  readonly pluginName: string
  readonly config: ShadowConfig
  readonly transport: HttpTransportService
  readonly store: ShadowStore
}

export interface ShadowEvaluator {
  readonly hooks: RequestHooks
}

/** One sampled request, copied out of the host's request context. */
interface ShadowSample {
  readonly requestId: string
  /** The original request's upstream model. */
  readonly model: string
  readonly candidate: string
  /** The original chat body with the candidate model, not streamed. */
  readonly body: Record<string, unknown>
  readonly originalOutput: string
  readonly originalCompletionTokens: number | null
}

const FAILURE_LOG_INTERVAL_MS = 60_000

/** Finds the configured candidate of a route: by the name the client sent, then by the upstream model's names. */
export const candidateFor = (candidates: Readonly<Record<string, string>>, route: Route): string | undefined => {
  for (const name of [route.requestedModel, ...priceLookupNames(route.upstreamModel)]) {
    const candidate = candidates[name]
    if (candidate !== undefined) return candidate
  }
  return undefined
}

const completionTokensOf = (body: unknown): number | null => {
  const tokens = (body as { usage?: { completion_tokens?: unknown } } | null)?.usage?.completion_tokens
  return typeof tokens === "number" && Number.isFinite(tokens) ? tokens : null
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Creates the evaluator of an enabled shadow configuration; its shadow requests run in the current scope. */
export const makeShadowEvaluator = (
  options: ShadowEvaluatorOptions
): Effect.Effect<ShadowEvaluator, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const permits = yield* Effect.makeSemaphore(options.config.maxConcurrent)
    const { config } = options
    const baseUrl = (config.baseUrl ?? "").replace(/\/+$/, "")
    const headers: Record<string, string> = { [SHADOW_HEADER]: "1" }
    if (config.apiKey !== undefined) headers.authorization = `Bearer ${Redacted.value(config.apiKey)}`

    // Failed shadow requests are logged at most once a minute, with the number since the last line,
    // so a candidate that is down does not flood the log.
    let failuresSinceLog = 0
    let lastFailureLogMs = Number.NEGATIVE_INFINITY
    const logFailure = (result: ShadowResult, nowMs: number, error: string) => {
      failuresSinceLog++
      if (nowMs - lastFailureLogMs < FAILURE_LOG_INTERVAL_MS) return Effect.void
      const failures = failuresSinceLog
      failuresSinceLog = 0
      lastFailureLogMs = nowMs
      return Effect.logWarning(`${failures} shadow requests failed since the last warning. The latest failed with ${error}.`).pipe(
        Effect.annotateLogs({ "shadow.candidate": result.candidate, "shadow.error_type": result.errorType ?? "none" })
      )
    }

    const evaluate = (sample: ShadowSample) =>
      Effect.gen(function* () {
        const startedMs = yield* Clock.currentTimeMillis
        const response = yield* Effect.either(
          postJson(options.transport, {
            target: "shadow",
            url: `${baseUrl}/chat/completions`,
            headers,
            body: sample.body,
            timeoutMs: config.timeout
          })
        )
        const endedMs = yield* Clock.currentTimeMillis

        const base = {
          requestId: sample.requestId,
          createdAtMs: startedMs,
          model: sample.model,
          candidate: sample.candidate,
          originalCompletionTokens: sample.originalCompletionTokens,
          candidateLatencyMs: endedMs - startedMs
        }
        const failed = { ...base, status: "error" as const, comparison: null, score: null, candidateCompletionTokens: null }
        let result: ShadowResult
        if (response._tag === "Left") {
          result = { ...failed, errorType: "request_failed" }
          yield* logFailure(result, endedMs, response.left.message)
        } else if (response.right.status < 200 || response.right.status >= 300) {
          result = { ...failed, errorType: `http_${response.right.status}` }
          yield* logFailure(result, endedMs, `HTTP ${response.right.status}`)
        } else {
          const json = parseJson(response.right.text)
          const candidateOutput = outputText(json)
          if (candidateOutput === undefined) {
            result = { ...failed, errorType: "no_output" }
            yield* logFailure(result, endedMs, "a response without a chat completion output")
          } else {
            const comparison = compareOutputs(sample.originalOutput, candidateOutput)
            result = {
              ...base,
              status: "ok",
              comparison: comparison.method,
              score: comparison.score,
              candidateCompletionTokens: completionTokensOf(json),
              errorType: null
            }
          }
        }

        yield* options.store.insert(result)
        yield* Effect.logDebug("Shadow request compared").pipe(
          Effect.annotateLogs({
            "shadow.candidate": sample.candidate,
            "shadow.status": result.status,
            "shadow.score": result.score ?? "none",
            "shadow.latency_ms": result.candidateLatencyMs
          })
        )
      }).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("Storing a shadow evaluation result failed.").pipe(Effect.annotateLogs({ error: error.message }))
        ),
        Effect.annotateLogs({ plugin: options.pluginName, "request.id": sample.requestId, model: sample.model })
      )

    const afterResponse = (context: RequestContext, outcome: Outcome): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (context.endpoint !== "chat" || outcome.status !== "ok" || outcome.answeredByHook) return
        if (context.headers.get(SHADOW_HEADER) !== undefined) return
        const candidate = candidateFor(config.candidates, context.route)
        if (candidate === undefined || candidate === context.route.requestedModel) return
        if ((yield* Random.next) >= config.sampleRate) return
        const originalOutput = outputText(outcome.response)
        if (originalOutput === undefined) return

        // Everything the fiber needs is copied now, because the request context belongs to the host.
        const body: Record<string, unknown> = { ...(context.request as unknown as Record<string, unknown>), model: candidate, stream: false }
        delete body.stream_options
        const sample: ShadowSample = {
          requestId: context.requestId,
          model: context.route.upstreamModel,
          candidate,
          body,
          originalOutput,
          originalCompletionTokens: outcome.usage?.completionTokens ?? null
        }

        // A sample drawn while every permit is taken is dropped, so a slow candidate cannot build a queue.
        const run = permits.withPermitsIfAvailable(1)(evaluate(sample)).pipe(
          Effect.flatMap((ran) =>
            ran._tag === "Some"
              ? Effect.void
              : Effect.logDebug("Shadow sample skipped, because maxConcurrent shadow requests are in flight.").pipe(
                  Effect.annotateLogs({ plugin: options.pluginName, "request.id": sample.requestId })
                )
          )
        )
        yield* Effect.forkIn(run, scope)
      })

    // A streamed response is compared too, which needs the host to assemble it.
    return { hooks: { afterResponse, needsAssembledStream: true } }
  })
