/**
 * Running the plugins' request hooks with the host's guarantees: order
 * (`beforeRequest` in configuration order, `afterResponse` in reverse),
 * a timeout per call, and each plugin's fail mode.
 *
 * A hook that fails with a gateway error (a 401 from an auth plugin, a 429
 * from a budget) has made a decision, and the request fails with it in
 * either mode. A hook that throws, dies or times out is faulty: with fail
 * mode `open` the fault is logged and counted and the request goes on;
 * with `closed` the request fails with a `PluginError`.
 */
import {
  PluginError,
  type GatewayError,
  type HookDecision,
  type Outcome,
  type RecordedUsage,
  type RequestContext,
  type RequestHooks
} from "@fluxen/sdk"
import { Cause, Duration, Effect, Fiber, Runtime } from "effect"

export interface HookPlugin {
  readonly name: string
  readonly hooks: RequestHooks
  readonly failMode: "open" | "closed"
  readonly timeoutMs: number
  readonly stats: HookStats
}

/** Counters per plugin, read by the metrics endpoint. */
export interface HookStats {
  calls: number
  faults: number
  timeouts: number
  /** Total time spent in this plugin's hooks, in milliseconds. */
  totalMs: number
}

export const makeHookStats = (): HookStats => ({ calls: 0, faults: 0, timeouts: 0, totalMs: 0 })

type HookName = "beforeRequest" | "afterResponse" | "afterUsage"

class HookTimeout {
  readonly _tag = "HookTimeout"
  constructor(readonly timeoutMs: number) {}
}

const asyncFiberOf = (cause: Cause.Cause<unknown>): Fiber.RuntimeFiber<unknown, unknown> | undefined => {
  if (cause._tag !== "Die") return undefined
  return Runtime.isAsyncFiberException(cause.defect) ? cause.defect.fiber : undefined
}

/**
 * Runs one hook call with the plugin's timeout and fail mode.
 *
 * The call first runs synchronously, because most hooks (counting tokens,
 * checking an in-memory limit) finish without waiting, and arming a timer
 * for them costs more than the hook itself (about 25 µs per call for
 * `Effect.timeout`, measured on Node 20). Only a hook that suspends keeps
 * running in its own fiber, which is joined under the timeout.
 */
const guard = <A>(
  runtime: Runtime.Runtime<never>,
  plugin: HookPlugin,
  hookName: HookName,
  context: RequestContext,
  run: () => Effect.Effect<A, GatewayError>
): Effect.Effect<A | undefined, GatewayError> =>
  Effect.suspend(() => guardNow(runtime, plugin, hookName, context, run))

const guardNow = <A>(
  runtime: Runtime.Runtime<never>,
  plugin: HookPlugin,
  hookName: HookName,
  context: RequestContext,
  run: () => Effect.Effect<A, GatewayError>
): Effect.Effect<A | undefined, GatewayError> => {
  const started = performance.now()
  plugin.stats.calls++
  const exit = Runtime.runSyncExit(runtime)(Effect.suspend(run))
  if (exit._tag === "Success") {
    plugin.stats.totalMs += performance.now() - started
    return Effect.succeed(exit.value)
  }

  const fiber = asyncFiberOf(exit.cause) as Fiber.RuntimeFiber<A, GatewayError> | undefined
  const outcome: Effect.Effect<A, GatewayError> =
    fiber === undefined
      ? Effect.failCause(exit.cause)
      : // Interruptible even inside a finalizer (after hooks run in one), so that the timeout can stop the wait.
        Effect.interruptible(Fiber.join(fiber)).pipe(
          Effect.timeoutFailCause({
            duration: Duration.millis(plugin.timeoutMs),
            onTimeout: () => Cause.die(new HookTimeout(plugin.timeoutMs))
          }),
          Effect.onInterrupt(() => Fiber.interruptFork(fiber)),
          Effect.tapDefect(() => Fiber.interruptFork(fiber))
        )

  return outcome.pipe(
    Effect.catchAllDefect((defect) => {
      const timedOut = defect instanceof HookTimeout
      plugin.stats.faults++
      if (timedOut) plugin.stats.timeouts++
      const reason = timedOut ? `timed out after ${plugin.timeoutMs} ms` : "failed"
      const log = Effect.logWarning(`Plugin hook ${reason}`).pipe(
        Effect.annotateLogs({
          plugin: plugin.name,
          hook: hookName,
          "request.id": context.requestId,
          "plugin.fail_mode": plugin.failMode,
          ...(timedOut ? {} : { error: String(defect) })
        })
      )
      return plugin.failMode === "open"
        ? Effect.as(log, undefined)
        : Effect.zipRight(
            log,
            Effect.fail(
              new PluginError({ plugin: plugin.name, hook: hookName, message: `The plugin '${plugin.name}' ${reason} in ${hookName}.` })
            )
          )
    }),
    Effect.ensuring(
      Effect.sync(() => {
        plugin.stats.totalMs += performance.now() - started
      })
    )
  )
}

export interface BeforeResult {
  readonly decision: HookDecision
  /** How many plugins, counted from the first, had their `beforeRequest` run. */
  readonly ran: number
}

export class HookChain {
  readonly needsAssembledStream: boolean
  private readonly before: ReadonlyArray<HookPlugin>

  constructor(
    readonly plugins: ReadonlyArray<HookPlugin>,
    private readonly runtime: Runtime.Runtime<never>
  ) {
    this.needsAssembledStream = plugins.some((plugin) => plugin.hooks.needsAssembledStream === true)
    this.before = plugins
  }

  /**
   * Runs `beforeRequest` hooks until one returns a response or fails; `ran` tells how
   * far it got. When a hook changes the request's model, `reroute` runs
   * before the next hook, so later hooks (a cache computing its key) see
   * the new route.
   */
  runBefore(
    context: RequestContext,
    progress: { ran: number },
    reroute: (model: string) => Effect.Effect<void, GatewayError> = () => Effect.void
  ): Effect.Effect<HookDecision, GatewayError> {
    const plugins = this.before
    const step = (index: number): Effect.Effect<HookDecision, GatewayError> => {
      if (index >= plugins.length) return Effect.succeed(undefined)
      const plugin = plugins[index]!
      progress.ran = index + 1
      const hook = plugin.hooks.beforeRequest
      if (hook === undefined) return step(index + 1)
      const model = (context.request as { model: string }).model
      return Effect.flatMap(guard(this.runtime, plugin, "beforeRequest", context, () => hook(context)), (decision) => {
        if (decision !== undefined) return Effect.succeed(decision)
        const changed = (context.request as { model: string }).model
        return changed === model ? step(index + 1) : Effect.zipRight(reroute(changed), step(index + 1))
      })
    }
    return step(0)
  }

  /**
   * Runs `afterResponse` hooks of the first `ran` plugins in reverse order.
   * Their failures are logged, never returned: the client's response has
   * already been decided.
   */
  runAfter(context: RequestContext, outcome: Outcome, ran: number): Effect.Effect<void> {
    let effect: Effect.Effect<void> = Effect.void
    for (let index = Math.min(ran, this.plugins.length) - 1; index >= 0; index--) {
      const plugin = this.plugins[index]!
      const hook = plugin.hooks.afterResponse
      if (hook === undefined) continue
      const guarded = guard(this.runtime, plugin, "afterResponse", context, () => hook(context, outcome)).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("Plugin afterResponse hook failed").pipe(
            Effect.annotateLogs({ plugin: plugin.name, "request.id": context.requestId, error: error._tag })
          )
        )
      )
      effect = Effect.zipRight(effect, guarded)
    }
    return effect
  }

  /** Runs `afterUsage` hooks of the first `ran` plugins in configuration order; failures are logged. */
  runAfterUsage(context: RequestContext, recorded: RecordedUsage, ran: number): Effect.Effect<void> {
    let effect: Effect.Effect<void> = Effect.void
    const count = Math.min(ran, this.plugins.length)
    for (let index = 0; index < count; index++) {
      const plugin = this.plugins[index]!
      const hook = plugin.hooks.afterUsage
      if (hook === undefined) continue
      const guarded = guard(this.runtime, plugin, "afterUsage", context, () => hook(context, recorded)).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("Plugin afterUsage hook failed").pipe(
            Effect.annotateLogs({ plugin: plugin.name, "request.id": context.requestId, error: error._tag })
          )
        )
      )
      effect = Effect.zipRight(effect, guarded)
    }
    return effect
  }
}
