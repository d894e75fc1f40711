/**
 * The hook conformance suite: checks that a hook plugin's `beforeRequest`,
 * `afterResponse` and `afterUsage` accept the kinds of context the host
 * passes (a set of sample requests and outcomes), do not throw, finish within
 * the plugin's timeout, and stop when interrupted, as the host requires.
 */
import { Cause, Duration, Effect, Either, Exit, Fiber, Option, Schema } from "effect"
import { ChatRequest, EmbeddingsRequest } from "../ChatRequest.js"
import { UpstreamHttpError, isGatewayError } from "../Errors.js"
import type { CanonicalRequest, Endpoint, RecordedUsage, RequestContext, RequestHooks } from "../Hooks.js"
import type { PluginDefinition } from "../Plugin.js"
import { buildPlugin, makeOutcome, makeRequestContext, type BuildPluginOptions } from "./PluginHarness.js"
import type { ConformanceTestApi } from "./TestApi.js"

/** A request the hooks are called with. */
export interface HookRequestCase {
  /** Names the case in test titles, e.g. `streamed chat`. */
  readonly name: string
  readonly endpoint: Endpoint
  readonly request: CanonicalRequest
}

export interface HookConformanceOptions<Config> {
  readonly plugin: PluginDefinition<Config>
  /** The plugin's YAML `config` section, decoded with its `configSchema` as the host does. */
  readonly config: unknown
  /**
   * The plugin entry's `timeout` in `fluxen.yaml`, in milliseconds: every
   * hook call must finish within it. Default 5 000, the host's default.
   */
  readonly timeoutMs?: number
  /** Replaces the default cases: a chat, a streamed chat and an embeddings request. */
  readonly requests?: ReadonlyArray<HookRequestCase>
  /** Passed to `buildPlugin`, for plugins that need the gateway database. */
  readonly sqlLayer?: BuildPluginOptions["sqlLayer"]
}

const defaultCases: ReadonlyArray<HookRequestCase> = [
  {
    name: "chat",
    endpoint: "chat",
    request: {
      model: "conformance-model",
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: "Say hello." }
      ]
    }
  },
  {
    name: "streamed chat",
    endpoint: "chat",
    request: {
      model: "conformance-model",
      messages: [{ role: "user", content: "Count to three." }],
      stream: true,
      stream_options: { include_usage: true }
    }
  },
  { name: "embeddings", endpoint: "embeddings", request: { model: "conformance-embedding-model", input: ["one", "two"] } }
]

const requestSchemas: Partial<Record<Endpoint, Schema.Schema<any, any>>> = { chat: ChatRequest, embeddings: EmbeddingsRequest }

type HookName = "beforeRequest" | "afterResponse" | "afterUsage"

/**
 * Runs one hook call the way the host judges it. Success and a failure with
 * a gateway error (a decision, such as a 401 from an auth plugin) are both
 * accepted. A defect (a thrown exception, a die) or a call that outlasts
 * `timeoutMs` is a fault, reported as a thrown `Error`.
 */
const runHook = async <A>(hookName: HookName, effect: () => Effect.Effect<A, unknown>, timeoutMs: number): Promise<Either.Either<A, unknown>> => {
  const started = performance.now()
  const exit = await Effect.runPromiseExit(
    Effect.suspend(effect).pipe(
      Effect.either,
      Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => "timeout" as const })
    )
  )
  if (Exit.isSuccess(exit)) {
    const outcome = exit.value
    if (Either.isLeft(outcome) && !isGatewayError(outcome.left)) {
      throw new Error(`${hookName} failed with a value that is not a gateway error from @fluxen/sdk: ${String(outcome.left)}`)
    }
    return outcome
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const elapsed = Math.round(performance.now() - started)
    throw new Error(
      `${hookName} did not finish within the plugin timeout of ${timeoutMs} ms (gave up after ${elapsed} ms). ` +
        "The host would count it as a fault: skipped with failMode open, a failed request with failMode closed."
    )
  }
  throw new Error(`${hookName} threw or died, which the host counts as a fault:\n${Cause.pretty(exit.cause)}`)
}

const noUsageRecord: RecordedUsage = { status: "ok", httpStatus: 200, usage: undefined, estimated: false, costUsd: null }

/**
 * Registers the hook conformance tests. The plugin is built once per test
 * with a fetch-based transport and no upstream; hooks that call out over
 * HTTP need their own server.
 */
export const runHookConformance = <Config>(test: ConformanceTestApi, options: HookConformanceOptions<Config>): void => {
  const { describe, it, expect } = test
  const { plugin } = options
  const timeoutMs = options.timeoutMs ?? 5_000
  const cases = options.requests ?? defaultCases
  // The test itself gets room for the hook's own timeout plus building the plugin.
  const testTimeoutMs = timeoutMs * 3 + 5_000

  const build = () =>
    buildPlugin(plugin, options.config, {
      instanceName: plugin.name,
      ...(options.sqlLayer === undefined ? {} : { sqlLayer: options.sqlLayer })
    })

  // With afterAll the tests share one build, which matters for plugins that
  // take a while to start (worker threads, loaded tables).
  let shared: ReturnType<typeof build> | undefined

  const withHooks = async (body: (hooks: RequestHooks) => Promise<void>): Promise<void> => {
    const reuse = test.afterAll !== undefined
    if (reuse) shared ??= build()
    const built = reuse ? await shared! : await build()
    try {
      const hooks = built.instance.hooks
      if (hooks === undefined) throw new Error(`The plugin '${plugin.name}' built, but its PluginInstance has no hooks.`)
      await body(hooks)
    } finally {
      if (!reuse) await built.close()
    }
  }

  const checkRequestStillValid = (context: RequestContext, original: HookRequestCase): void => {
    const schema = requestSchemas[original.endpoint]
    if (schema === undefined) return
    const decoded = Schema.decodeUnknownEither(schema)(context.request)
    expect(Either.isRight(decoded), `the request beforeRequest left in context.request is a valid ${original.endpoint} request`).toBe(true)
    expect(context.request.model, "beforeRequest keeps the request's model, because the route is not chosen again").toBe(original.request.model)
  }

  describe(`${plugin.name} hook conformance`, () => {
    test.afterAll?.(async () => {
      if (shared !== undefined) await (await shared).close()
    })

    it("builds and provides request hooks", async () => {
      await withHooks(async (hooks) => {
        const present = [hooks.beforeRequest, hooks.afterResponse, hooks.afterUsage].filter((hook) => hook !== undefined)
        expect(present.length, "the number of hooks among beforeRequest, afterResponse and afterUsage").toBeGreaterThan(0)
      })
    }, testTimeoutMs)

    for (const requestCase of cases) {
      it(`beforeRequest handles the ${requestCase.name} request`, async () => {
        await withHooks(async (hooks) => {
          if (hooks.beforeRequest === undefined) return
          const context = makeRequestContext({ request: requestCase.request, endpoint: requestCase.endpoint })
          const decision = await runHook("beforeRequest", () => hooks.beforeRequest!(context), timeoutMs)
          if (Either.isRight(decision) && decision.right !== undefined) {
            const tag = (decision.right.respond as { _tag?: unknown } | undefined)?._tag
            expect(["Json", "Stream"], "an answer from beforeRequest is a Json or Stream result").toContain(tag)
          }
          if (Either.isRight(decision)) checkRequestStillValid(context, requestCase)
        })
      }, testTimeoutMs)

      it(`afterResponse accepts empty outcomes (${requestCase.name})`, async () => {
        await withHooks(async (hooks) => {
          const context = makeRequestContext({ request: requestCase.request, endpoint: requestCase.endpoint })
          if (hooks.beforeRequest !== undefined) await runHook("beforeRequest", () => hooks.beforeRequest!(context), timeoutMs)
          if (hooks.afterResponse === undefined) return

          const error = new UpstreamHttpError({
            provider: "test",
            status: 503,
            error: { message: "The upstream is overloaded.", type: "api_error", param: null, code: null },
            headers: {}
          })
          const outcomes = [
            makeOutcome(),
            makeOutcome({ status: "error", httpStatus: 503, error }),
            makeOutcome({ status: "cancelled", httpStatus: 499 })
          ]
          for (const outcome of outcomes) {
            const result = await runHook("afterResponse", () => hooks.afterResponse!(context, outcome), timeoutMs)
            expect(Either.isRight(result), `afterResponse succeeds for a '${outcome.status}' outcome without usage or response`).toBe(true)
          }
        })
      }, testTimeoutMs)
    }

    it("afterUsage accepts a record without usage", async () => {
      await withHooks(async (hooks) => {
        if (hooks.afterUsage === undefined) return
        const requestCase = cases[0]!
        const context = makeRequestContext({ request: requestCase.request, endpoint: requestCase.endpoint })
        const result = await runHook("afterUsage", () => hooks.afterUsage!(context, noUsageRecord), timeoutMs)
        expect(Either.isRight(result), "afterUsage succeeds for a record without usage").toBe(true)
      })
    }, testTimeoutMs)

    it("hooks stop when the host interrupts them", async () => {
      await withHooks(async (hooks) => {
        const requestCase = cases[0]!
        const calls: Array<[HookName, () => Effect.Effect<unknown, unknown>]> = []
        const context = makeRequestContext({ request: requestCase.request, endpoint: requestCase.endpoint })
        if (hooks.beforeRequest !== undefined) calls.push(["beforeRequest", () => hooks.beforeRequest!(context)])
        if (hooks.afterResponse !== undefined) calls.push(["afterResponse", () => hooks.afterResponse!(context, makeOutcome())])
        if (hooks.afterUsage !== undefined) calls.push(["afterUsage", () => hooks.afterUsage!(context, noUsageRecord)])

        for (const [hookName, call] of calls) {
          // The host interrupts a hook that outlasts its timeout. An
          // uninterruptible hook would keep its fiber and resources alive after that.
          const interrupted = await Effect.runPromiseExit(
            Effect.gen(function* () {
              const fiber = yield* Effect.fork(Effect.suspend(call))
              yield* Effect.yieldNow()
              yield* Fiber.interrupt(fiber)
            }).pipe(Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => "timeout" as const }))
          )
          expect(Exit.isSuccess(interrupted), `${hookName} can be interrupted within ${timeoutMs} ms`).toBe(true)
        }
      })
    }, testTimeoutMs)
  })
}
