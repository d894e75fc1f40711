/**
 * The policy hooks while Redis hangs: a TCP proxy between the plugin and the
 * shared Redis stops forwarding but keeps its connections open. After a few
 * timed-out admissions the circuit breaker must apply `redis.failMode` at
 * once and log its opening and closing once each. Meanwhile the metrics
 * report Redis as down, and one warning states the outcome of the failed
 * admissions. Once Redis responds, limits are checked in Redis again.
 */
import { describe, expect, layer } from "@effect/vitest"
import type { PluginMetric, RequestContext } from "@fluxen/sdk"
import { startTcpProxy } from "@fluxen/sdk/testing"
import { Duration, Effect, Either, HashMap, Logger, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import { buildPolicyPlugin, makeContext, makeTestRedisStore, policyTestDatabases, testRedisUrl } from "./testing/PolicyTesting.js"

const COMMAND_TIMEOUT_MS = 200
const newKey = () => `fx-${randomUUID().replaceAll("-", "")}${randomUUID().replaceAll("-", "").slice(0, 11)}`

/**
 * Collects the `circuit.state` annotation of each log line that has one (the
 * breaker's changes of state), and the messages of the warnings about failed
 * admissions.
 */
const captureLogs = () => {
  const states: Array<unknown> = []
  const admissionWarnings: Array<string> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, message }) => {
      Option.map(HashMap.get(annotations, "circuit.state"), (state) => states.push(state))
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      if (text.startsWith("The limit store failed during admission")) admissionWarnings.push(text)
    })
  )
  return { states, admissionWarnings, logger }
}

/** Builds the plugin on the shared Redis, reached through a proxy that the test pauses. */
const policyBehindProxy = (failMode: "open" | "closed") =>
  Effect.gen(function* () {
    const { prefix } = yield* makeTestRedisStore()
    const shared = new URL(testRedisUrl)
    const proxy = yield* startTcpProxy(Number(shared.port || 6379))
    shared.host = `127.0.0.1:${proxy.port}`
    const key = newKey()
    const plugin = yield* buildPolicyPlugin({
      keys: [{ key, name: "hung", limits: { requestsPerMinute: 1_000 } }],
      redis: { url: shared.toString(), keyPrefix: prefix, commandTimeoutMs: COMMAND_TIMEOUT_MS, failMode }
    })
    return { ...plugin, proxy, context: () => makeContext({ headers: { authorization: `Bearer ${key}` }, promptTokensEstimate: 10 }) }
  })

interface Outcome {
  readonly context: RequestContext
  readonly result: Either.Either<unknown, unknown>
  readonly elapsedMs: number
}

/** Sends requests one after another for `durationMs`, longer than the breaker's first open interval, so a probe falls among them. */
const sendFor = (durationMs: number, beforeRequest: (context: RequestContext) => Effect.Effect<unknown, unknown>, newContext: () => RequestContext) =>
  Effect.gen(function* () {
    const outcomes: Array<Outcome> = []
    const startedAt = performance.now()
    while (performance.now() - startedAt < durationMs) {
      yield* Effect.sleep("20 millis")
      const context = newContext()
      const started = performance.now()
      const result = yield* Effect.either(beforeRequest(context))
      outcomes.push({ context, result, elapsedMs: performance.now() - started })
    }
    return outcomes
  })

/** The `fluxen_policy_redis_up` value that `GET /metrics` would show. */
const redisUp = (metrics: () => ReadonlyArray<PluginMetric>) =>
  metrics().find((metric) => metric.name === "fluxen_policy_redis_up")?.samples[0]?.value

/** Retries `effect` every 100 ms for up to 10 s. */
const eventually = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout(Duration.seconds(10)))

describe("policy behind a paused Redis proxy", () => {
  // Without the test services, so that the breaker and the sleeps run on the real clock.
  layer(policyTestDatabases[0]!.layer, { timeout: "30 seconds", excludeTestServices: true })((it) => {
    it.scoped("fail open skips a hung Redis", () => {
      const { states, admissionWarnings, logger } = captureLogs()
      return Effect.gen(function* () {
        const { hooks, metrics, proxy, context } = yield* policyBehindProxy("open")
        const checked = context()
        yield* hooks.beforeRequest!(checked)
        expect(checked.responseHeaders["x-ratelimit-remaining-requests"]).toBe("999")
        expect(redisUp(metrics)).toBe(1)

        yield* proxy.pause
        const outcomes = yield* sendFor(1_200, hooks.beforeRequest!, context)

        expect(outcomes.every((outcome) => Either.isRight(outcome.result))).toBe(true)
        expect(outcomes.every((outcome) => outcome.context.responseHeaders["x-ratelimit-remaining-requests"] === undefined)).toBe(true)
        // Three admissions time out and open the breaker. It lets every later one through unchecked without a command.
        expect(outcomes.slice(0, 3).every((outcome) => outcome.elapsedMs >= COMMAND_TIMEOUT_MS - 20)).toBe(true)
        expect(Math.max(...outcomes.slice(3).map((outcome) => outcome.elapsedMs))).toBeLessThan(COMMAND_TIMEOUT_MS / 4)
        expect(states).toEqual(["open"])
        expect(redisUp(metrics)).toBe(0)
        // One line for every failed admission within the warning interval.
        expect(admissionWarnings).toEqual([
          "The limit store failed during admission, so the request passed without its rate limit and budget checks (redis.failMode: open)."
        ])

        yield* proxy.resume
        const recovered = yield* eventually(
          Effect.suspend(() => {
            const again = context()
            return Effect.flatMap(hooks.beforeRequest!(again), () =>
              again.responseHeaders["x-ratelimit-remaining-requests"] === undefined ? Effect.fail("unchecked") : Effect.succeed(again)
            )
          })
        )

        expect(recovered.responseHeaders["x-ratelimit-remaining-requests"]).toBeDefined()
        expect(states).toEqual(["open", "closed"])
        expect(redisUp(metrics)).toBe(1)
      }).pipe(Effect.provide(logger))
    })

    it.scoped("fail closed rejects at once", () => {
      const { admissionWarnings, logger } = captureLogs()
      return Effect.gen(function* () {
        const { hooks, proxy, context } = yield* policyBehindProxy("closed")
        yield* hooks.beforeRequest!(context())

        yield* proxy.pause
        const outcomes = yield* sendFor(1_000, hooks.beforeRequest!, context)

        for (const outcome of outcomes) {
          expect(outcome.result).toMatchObject({ _tag: "Left", left: { _tag: "LimitExceededError", kind: "rate_limit", retryAfterSeconds: 1 } })
        }
        expect(outcomes.slice(0, 3).every((outcome) => outcome.elapsedMs >= COMMAND_TIMEOUT_MS - 20)).toBe(true)
        expect(Math.max(...outcomes.slice(3).map((outcome) => outcome.elapsedMs))).toBeLessThan(COMMAND_TIMEOUT_MS / 4)
        expect(admissionWarnings).toEqual(["The limit store failed during admission, so the request was rejected with 429 (redis.failMode: closed)."])

        yield* proxy.resume
        yield* eventually(hooks.beforeRequest!(context()))
      }).pipe(Effect.provide(logger))
    })
  })
})
