/**
 * Running the plugins' request hooks with the host's guarantees: order
 * (`beforeRequest` and `listModels` in configuration order, `afterResponse`
 * in reverse), a timeout per call, and each plugin's fail mode.
 *
 * A hook that fails with a gateway error (a 401 from an auth plugin, a 429
 * from a budget) has made a decision, and the request fails with it in
 * either mode. A hook that throws, dies or times out is faulty: with fail
 * mode `open` the fault is logged and counted and the request goes on;
 * with `closed` the request fails with a `PluginError`.
 *
 * The request pipeline is plain async code. The chain's own methods
 * therefore return a value when every hook finished at once, and a promise
 * only when one had to wait. Failures are thrown as gateway errors. The
 * `Effect` methods at the end wrap them for callers that run inside Effect.
 */
import {
  PluginError,
  type GatewayError,
  type HookDecision,
  type ListedModel,
  type Outcome,
  type RecordedUsage,
  type RequestContext,
  type RequestHeaders,
  type RequestHooks
} from "@fluxen/sdk"
import { Cause, Effect, Exit, Fiber, Option, Runtime } from "effect"

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

type HookName = "beforeRequest" | "afterResponse" | "afterUsage" | "listModels"

/** A result available now, or a promise of it when a hook had to wait. */
export type Pending<A> = A | Promise<A>

export const isPromise = <A>(value: Pending<A>): value is Promise<A> => value instanceof Promise

/** An error thrown when the request's client disconnected while a hook was waiting. */
export class HookCancelled {
  readonly _tag = "HookCancelled"
}

class HookTimeout {
  readonly _tag = "HookTimeout"
  constructor(readonly timeoutMs: number) {}
}

const asyncFiberOf = (cause: Cause.Cause<unknown>): Fiber.RuntimeFiber<unknown, unknown> | undefined => {
  if (cause._tag !== "Die") return undefined
  return Runtime.isAsyncFiberException(cause.defect) ? cause.defect.fiber : undefined
}

export interface BeforeResult {
  readonly decision: HookDecision
  /** How many plugins, counted from the first, had their `beforeRequest` run. */
  readonly ran: number
}

export class HookChain {
  readonly needsAssembledStream: boolean
  private readonly runSyncExit: <A, E>(effect: Effect.Effect<A, E>) => Exit.Exit<A, E>
  private readonly runSync: <A>(effect: Effect.Effect<A>) => A

  constructor(
    readonly plugins: ReadonlyArray<HookPlugin>,
    runtime: Runtime.Runtime<never>
  ) {
    this.needsAssembledStream = plugins.some((plugin) => plugin.hooks.needsAssembledStream === true)
    this.runSyncExit = Runtime.runSyncExit(runtime)
    this.runSync = Runtime.runSync(runtime)
  }

  /**
   * Runs `beforeRequest` hooks until one returns a response or fails;
   * `progress.ran` counts the plugins it reached. When a hook changes the request's
   * model, `reroute` runs before the next hook, so later hooks (a cache
   * computing its key) see the new route. It throws a gateway error for a
   * model that cannot be routed. A client that goes away (the signal that
   * `clientGone` returns) stops a waiting hook, and the call throws
   * `HookCancelled`. The signal is requested only when a hook waits.
   */
  before(
    context: RequestContext,
    progress: { ran: number },
    reroute: (model: string) => void = () => {},
    clientGone?: () => AbortSignal
  ): Pending<HookDecision> {
    const plugins = this.plugins
    const from = (index: number): Pending<HookDecision> => {
      for (; index < plugins.length; index++) {
        const plugin = plugins[index]!
        progress.ran = index + 1
        const hook = plugin.hooks.beforeRequest
        if (hook === undefined) continue
        const model = (context.request as { model: string }).model
        const next = index + 1
        const afterHook = (decision: HookDecision | undefined): Pending<HookDecision> => {
          if (decision !== undefined) return decision
          const changed = (context.request as { model: string }).model
          if (changed !== model) reroute(changed)
          return from(next)
        }
        const result = this.guard(plugin, "beforeRequest", context.requestId, () => hook(context), clientGone)
        return isPromise(result) ? result.then(afterHook) : afterHook(result)
      }
      return undefined
    }
    return from(0)
  }

  /**
   * Runs `afterResponse` hooks of the first `ran` plugins in reverse order.
   * Their failures are logged, never returned: the client's response has
   * already been decided.
   */
  after(context: RequestContext, outcome: Outcome, ran: number): Pending<void> {
    const from = (index: number): Pending<void> => {
      for (; index >= 0; index--) {
        const plugin = this.plugins[index]!
        const hook = plugin.hooks.afterResponse
        if (hook === undefined) continue
        const result = this.guardLogged(plugin, "afterResponse", context.requestId, () => hook(context, outcome))
        if (isPromise(result)) {
          const next = index - 1
          return result.then(() => from(next))
        }
      }
    }
    return from(Math.min(ran, this.plugins.length) - 1)
  }

  /** Runs `afterUsage` hooks of the first `ran` plugins in configuration order; failures are logged. */
  afterUsage(context: RequestContext, recorded: RecordedUsage, ran: number): Pending<void> {
    const count = Math.min(ran, this.plugins.length)
    const from = (index: number): Pending<void> => {
      for (; index < count; index++) {
        const plugin = this.plugins[index]!
        const hook = plugin.hooks.afterUsage
        if (hook === undefined) continue
        const result = this.guardLogged(plugin, "afterUsage", context.requestId, () => hook(context, recorded))
        if (isPromise(result)) {
          const next = index + 1
          return result.then(() => from(next))
        }
      }
    }
    return from(0)
  }

  /**
   * Runs `listModels` hooks in configuration order, each on the list the
   * previous one returned. A faulty hook under fail mode `open` leaves the
   * list unchanged. It throws the first gateway error.
   */
  listModels(headers: RequestHeaders, models: ReadonlyArray<ListedModel>, requestId?: string): Pending<ReadonlyArray<ListedModel>> {
    const plugins = this.plugins
    const from = (index: number, listed: ReadonlyArray<ListedModel>): Pending<ReadonlyArray<ListedModel>> => {
      for (; index < plugins.length; index++) {
        const hook = plugins[index]!.hooks.listModels
        if (hook === undefined) continue
        const next = index + 1
        const afterHook = (narrowed: ReadonlyArray<ListedModel> | undefined) => from(next, narrowed ?? listed)
        const result = this.guard(plugins[index]!, "listModels", requestId, () => hook(headers, listed))
        return isPromise(result) ? result.then(afterHook) : afterHook(result)
      }
      return listed
    }
    return from(0, models)
  }

  /** Runs `before` as an Effect. */
  runBefore(
    context: RequestContext,
    progress: { ran: number },
    reroute: (model: string) => void = () => {}
  ): Effect.Effect<HookDecision, GatewayError> {
    return fromPending(() => this.before(context, progress, reroute))
  }

  /** Runs `after` as an Effect. */
  runAfter(context: RequestContext, outcome: Outcome, ran: number): Effect.Effect<void> {
    return fromPending(() => this.after(context, outcome, ran)) as Effect.Effect<void>
  }

  /** Runs `afterUsage` as an Effect. */
  runAfterUsage(context: RequestContext, recorded: RecordedUsage, ran: number): Effect.Effect<void> {
    return fromPending(() => this.afterUsage(context, recorded, ran)) as Effect.Effect<void>
  }

  /** Runs `listModels` as an Effect. */
  runListModels(
    headers: RequestHeaders,
    models: ReadonlyArray<ListedModel>,
    requestId?: string
  ): Effect.Effect<ReadonlyArray<ListedModel>, GatewayError> {
    return fromPending(() => this.listModels(headers, models, requestId))
  }

  /**
   * Runs one hook call with the plugin's timeout and fail mode.
   *
   * The call first runs synchronously, because most hooks (counting tokens,
   * checking an in-memory limit) finish without waiting, and arming a timer
   * for them costs more than the hook itself. Only a hook that suspends
   * keeps running in its own fiber, watched by a timer.
   */
  private guard<A>(
    plugin: HookPlugin,
    hookName: HookName,
    requestId: string | undefined,
    run: () => Effect.Effect<A, GatewayError>,
    clientGone?: () => AbortSignal
  ): Pending<A | undefined> {
    const started = performance.now()
    plugin.stats.calls++
    const exit = this.runNow(run)
    const fiber = exit._tag === "Failure" ? (asyncFiberOf(exit.cause) as Fiber.RuntimeFiber<A, GatewayError> | undefined) : undefined
    if (fiber === undefined) {
      plugin.stats.totalMs += performance.now() - started
      return this.settle(plugin, hookName, requestId, exit)
    }
    return this.wait(fiber, plugin.timeoutMs, clientGone?.()).then((waited) => {
      plugin.stats.totalMs += performance.now() - started
      return this.settle(plugin, hookName, requestId, waited)
    })
  }

  /**
   * Starts a hook call and runs it as far as it goes without waiting. A hook
   * that returns a completed effect (`Effect.succeed`, `Effect.void`, a
   * failure) needs no fiber: an `Exit` is such an effect, and it is read
   * directly. A hook that throws, or returns something else than an effect,
   * has a defect.
   */
  private runNow<A>(run: () => Effect.Effect<A, GatewayError>): Exit.Exit<A, GatewayError> {
    let effect: Effect.Effect<A, GatewayError>
    try {
      effect = run()
    } catch (defect) {
      return Exit.die(defect)
    }
    if (!Effect.isEffect(effect)) return Exit.die(new TypeError(`The hook returned ${typeof effect}, not an Effect.`))
    return Exit.isExit(effect) ? (effect as Exit.Exit<A, GatewayError>) : this.runSyncExit(effect)
  }

  /** Runs a hook call like `guard`, but logs a failure instead of throwing it. */
  private guardLogged(
    plugin: HookPlugin,
    hookName: HookName,
    requestId: string,
    run: () => Effect.Effect<void, GatewayError>
  ): Pending<void> {
    const logFailure = (error: unknown) => {
      this.runSync(
        Effect.logWarning(`Plugin ${hookName} hook failed`).pipe(
          Effect.annotateLogs({ plugin: plugin.name, "request.id": requestId, error: describe(error) })
        )
      )
    }
    try {
      const result = this.guard(plugin, hookName, requestId, run)
      return isPromise(result) ? result.then(() => undefined, logFailure) : undefined
    } catch (error) {
      logFailure(error)
    }
  }

  /** Waits for a hook's fiber under its timeout, and interrupts it on timeout or when the client disconnects. */
  private wait<A>(
    fiber: Fiber.RuntimeFiber<A, GatewayError>,
    timeoutMs: number,
    signal: AbortSignal | undefined
  ): Promise<Exit.Exit<A, GatewayError> | HookTimeout | HookCancelled> {
    return new Promise((resolve) => {
      const stop = (reason: HookTimeout | HookCancelled) => {
        cleanup()
        fiber.unsafeInterruptAsFork(fiber.id())
        resolve(reason)
      }
      const onAbort = () => stop(new HookCancelled())
      const timer = setTimeout(() => stop(new HookTimeout(timeoutMs)), timeoutMs)
      const observer = (exit: Exit.Exit<A, GatewayError>) => {
        cleanup()
        resolve(exit)
      }
      const cleanup = () => {
        clearTimeout(timer)
        fiber.removeObserver(observer)
        signal?.removeEventListener("abort", onAbort)
      }
      if (signal?.aborted === true) return stop(new HookCancelled())
      signal?.addEventListener("abort", onAbort, { once: true })
      fiber.addObserver(observer)
    })
  }

  /** Converts a hook's exit into its value, a thrown decision, or a fault handled by the fail mode. */
  private settle<A>(
    plugin: HookPlugin,
    hookName: HookName,
    requestId: string | undefined,
    exit: Exit.Exit<A, GatewayError> | HookTimeout | HookCancelled
  ): A | undefined {
    if (exit instanceof HookCancelled) throw exit
    let timedOut = false
    let defect: unknown
    if (exit instanceof HookTimeout) {
      timedOut = true
      plugin.stats.timeouts++
    } else if (exit._tag === "Success") {
      return exit.value
    } else {
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) throw failure.value
      defect = Cause.squash(exit.cause)
    }
    plugin.stats.faults++
    const reason = timedOut ? `timed out after ${plugin.timeoutMs} ms` : "failed"
    this.runSync(
      Effect.logWarning(`Plugin hook ${reason}`).pipe(
        Effect.annotateLogs({
          plugin: plugin.name,
          hook: hookName,
          ...(requestId === undefined ? {} : { "request.id": requestId }),
          "plugin.fail_mode": plugin.failMode,
          ...(timedOut ? {} : { error: String(defect) })
        })
      )
    )
    if (plugin.failMode === "open") return undefined
    throw new PluginError({ plugin: plugin.name, hook: hookName, message: `The plugin '${plugin.name}' ${reason} in ${hookName}.` })
  }
}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String((error as { _tag: unknown })._tag) : String(error)

/** Runs a pending computation inside Effect, with a thrown gateway error as the failure. */
const fromPending = <A>(start: () => Pending<A>): Effect.Effect<A, GatewayError> =>
  Effect.suspend(() => {
    let pending: Pending<A>
    try {
      pending = start()
    } catch (error) {
      return Effect.fail(error as GatewayError)
    }
    return isPromise(pending) ? Effect.tryPromise({ try: () => pending, catch: (error) => error as GatewayError }) : Effect.succeed(pending)
  })
